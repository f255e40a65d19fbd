# === step
def area(w, h):
    return w * h

print("defined")
print(area(2, 3))
# === step: runs 1 5
def area(w, h):
    return w * h / 2

print("defined")
print(area(2, 3))
