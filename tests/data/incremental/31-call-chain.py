# === step
BASE = 10
def inner(x):
    return x + BASE

def outer(x):
    return inner(x) * 2

print(outer(1))
print("static")
# === step: runs 2 8
BASE = 10
def inner(x):
    return x - BASE

def outer(x):
    return inner(x) * 2

print(outer(1))
print("static")
# === step
BASE = 20
def inner(x):
    return x - BASE

def outer(x):
    return inner(x) * 2

print(outer(1))
print("static")
