# === step
k = 2
f = lambda x: x * k
print(f(3))
def make(m):
    return lambda x: x + m + k
g = make(1)
print(g(1))
# === step: runs 1 3 6 7
k = 3
f = lambda x: x * k
print(f(3))
def make(m):
    return lambda x: x + m + k
g = make(1)
print(g(1))
