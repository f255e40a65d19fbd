# === step
p = 1
q = 2
print(p, q)
# === step
q = 2
p = 1
print(p, q)
# === step
q = 2
print(p, q)
p = 1
