# === step
x = 1
x = 2
print(x)
# === step: runs 1 2
x = 10
x = 2
print(x)
