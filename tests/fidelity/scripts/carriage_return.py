import sys

for i in range(5):
    sys.stdout.write(f"\rprogress {i * 25}%")
    sys.stdout.flush()
sys.stdout.write("\n")
print("done")
