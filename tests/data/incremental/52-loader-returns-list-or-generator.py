# === step
def load():
    return [1, 2, 3]
data = load()
print(sum(data))
print(list(data))
# === step: runs 5
def load():
    return [1, 2, 3]
data = load()
print(sum(data))
print(list(data), 1)
# === step
def load():
    return (v for v in [1, 2, 3])
data = load()
print(sum(data))
print(list(data), 1)
# === step: runs 1 3 4 5
def load():
    return (v for v in [1, 2, 3])
data = load()
print(sum(data))
print(list(data), 2)
