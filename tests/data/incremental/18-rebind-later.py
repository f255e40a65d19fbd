# === step
x = 1
print(x)
x = 2
print(x)
# === step: runs 1 2 3
x = 1
print("first", x)
x = 2
print(x)
