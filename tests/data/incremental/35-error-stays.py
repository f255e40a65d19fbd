# === step
a = 1
print(missing)
print(a)
# === step
a = 2
print(missing)
print(a)
# === step
a = 2
missing = "found"
print(missing)
print(a)
