# === step
with open("data.txt", "w") as fh:
    fh.write("alpha\n")
with open("data.txt") as fh:
    text = fh.read()
print(text.upper())
# === step
with open("data.txt", "w") as fh:
    fh.write("beta\n")
with open("data.txt") as fh:
    text = fh.read()
print(text.upper())
# === step: runs 5
with open("data.txt", "w") as fh:
    fh.write("beta\n")
with open("data.txt") as fh:
    text = fh.read()
print(text.lower())
