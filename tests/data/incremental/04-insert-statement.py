# === step
a = 1
b = a + 1
print(a, b)
# === step: runs 2 3 4
a = 1
a = a * 10
b = a + 1
print(a, b)
# === step
a = 1
a = a * 10
b = a + 1
print("between")
print(a, b)
