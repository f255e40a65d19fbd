# === step
count = 0
def bump():
    global count
    count += 1

bump()
bump()
print(count)
# === step: runs 8
count = 0
def bump():
    global count
    count += 1

bump()
bump()
print("count", count)
# === step
count = 10
def bump():
    global count
    count += 1

bump()
bump()
print("count", count)
