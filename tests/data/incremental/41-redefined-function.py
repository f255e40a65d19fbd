# === step
def f():
    return 1

print(f())
def f():
    return 2

print(f())
# === step
def f():
    return 1

print("first", f())
def f():
    return 2

print(f())
