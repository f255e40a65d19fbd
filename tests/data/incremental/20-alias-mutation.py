# === step
a = []
b = a
b.append(1)
print(a)
# === step: runs 1 2 3 4
a = []
b = a
b.append(2)
print(a)
