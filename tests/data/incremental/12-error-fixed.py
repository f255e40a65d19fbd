# === step
a = 10
b = 0
ratio = a / b
print(ratio)
print("after")
# === step
a = 10
b = 4
ratio = a / b
print(ratio)
print("after")
