# === step
xs = [1, 2, 3]
if (n := len(xs)) > 2:
    print("long", n)
print(n * 10)
# === step
xs = [1, 2]
if (n := len(xs)) > 2:
    print("long", n)
print(n * 10)
# === step
xs = [1, 2]
found = [y for v in xs if (y := v * 3) > 3]
print(found, y)
