# === step
a = 1; b = a + 1
print(a, b)
c = 3
# === step: runs 1 2
a = 2; b = a + 1
print(a, b)
c = 3
