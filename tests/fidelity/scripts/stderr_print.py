import sys

print("out 1")
print("err 1", file=sys.stderr)
print("out 2")
print("err 2", file=sys.stderr)
