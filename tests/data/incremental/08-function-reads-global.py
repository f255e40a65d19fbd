# === step
def scaled(x):
    return x * FACTOR

FACTOR = 2
print(scaled(5))
values = [scaled(v) for v in range(3)]
print(values)
# === step: runs 4 5 6 7
def scaled(x):
    return x * FACTOR

FACTOR = 3
print(scaled(5))
values = [scaled(v) for v in range(3)]
print(values)
