import sys

print("clean exit")
sys.exit(0)
print("not reached")
