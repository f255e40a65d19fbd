# === step
xs = [3, 1, 2, 1]
print(xs.count(1))
xs.sort()
print(xs)
# === step: runs 1 2 3
xs = [3, 1, 2, 1]
print(xs.count(3))
xs.sort()
print(xs)
# === step: runs 1 3 4
xs = [3, 1, 2, 1]
print(xs.count(3))
xs.sort(reverse=True)
print(xs)
# === step: runs 5
xs = [3, 1, 2, 1]
print(xs.count(3))
xs.sort(reverse=True)
print(xs)
print(xs.index(2), xs.count(1))
