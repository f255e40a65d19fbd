# === step
x = 1
del x
try:
    print(x)
except NameError:
    print("gone")
# === step
x = 1
try:
    print(x)
except NameError:
    print("gone")
# === step
x = 1
del x
try:
    print(x)
except NameError:
    print("gone")
