# === step
x = 1
print(x)
# === step
x = (1
print(x)
# === step
x = 1
print(x)
