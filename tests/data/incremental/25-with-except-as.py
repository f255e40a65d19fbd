# === step
try:
    int("x")
except ValueError as e:
    msg = str(e)
print(msg)
# === step
try:
    int("y")
except ValueError as e:
    msg = str(e)
print(msg)
# === step
try:
    int("y")
except ValueError as e:
    msg = str(e)
print(msg)
try:
    print(e)
except NameError:
    print("e is unbound")
