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
# === step: runs 6
class Box:
    pass

box = Box()
box.v = 5
print("v", box.v)
box.v += 1
print(box.v)
