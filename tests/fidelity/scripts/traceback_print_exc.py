import traceback


def broken():
    return [][1]


try:
    broken()
except IndexError:
    traceback.print_exc()
print("carried on")
