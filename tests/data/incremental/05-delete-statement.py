# === step
a = 1
b = 2
print(a + b)
# === step: runs 2
a = 1
print(a + b)
# === step
a = 1
b = 5
print(a + b)
