# === step
k = 2
g = (x * k for x in range(3))
k = 3
print(list(g))
# === step
k = 2
g = (x * k for x in range(3))
k = 3
print("values", list(g))
# === step
k = 2
g = (x * k for x in range(3))
k = 4
print("values", list(g))
