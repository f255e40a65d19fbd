# === step
def loud(fn):
    def wrapper(*args):
        return str(fn(*args)).upper()
    return wrapper

@loud
def name():
    return "ada"

print(name())
# === step
def loud(fn):
    def wrapper(*args):
        return str(fn(*args)) + "!"
    return wrapper

@loud
def name():
    return "ada"

print(name())
