# === step
xs = [3, 1, 2]
xs.sort()
print(xs)
d = {}
d["k"] = len(xs)
print(d)
# === step: runs 1 2 3 4 5 6
xs = [3, 1, 2, 0]
xs.sort()
print(xs)
d = {}
d["k"] = len(xs)
print(d)
# === step: runs 6
xs = [3, 1, 2, 0]
xs.sort()
print(xs)
d = {}
d["k"] = len(xs)
print(sorted(d.items()))
