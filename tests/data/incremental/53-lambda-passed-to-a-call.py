# === step
seen = []
xs = [1, 2]
list(map(lambda x: seen.append(x), xs))
print(seen)
# === step: runs 1 2 3 4
seen = []
xs = [1, 2, 3]
list(map(lambda x: seen.append(x), xs))
print(seen)
# === step: runs 1 3 4
seen = []
xs = [1, 2, 3]
list(map(lambda x: seen.append(x * 10), xs))
print(seen)
