# === step
class Box:
    pass

box = Box()
box.v = 1
print(box.v)
box.v += 1
print(box.v)
# === step
class Box:
    pass

box = Box()
box.v = 5
print(box.v)
box.v += 1
print(box.v)
# === step: runs 1 4 5 6 7
class Box:
    pass

box = Box()
box.v = 5
print("v", box.v)
box.v += 1
print(box.v)
