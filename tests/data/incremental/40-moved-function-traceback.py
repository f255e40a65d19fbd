# === step
def fail():
    raise ValueError("boom")

print("a")
fail()
# === step
print("inserted")

def fail():
    raise ValueError("boom")

print("a")
fail()
