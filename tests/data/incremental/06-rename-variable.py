# === step
count = 3
doubled = count * 2
print(doubled)
# === step
total = 3
doubled = count * 2
print(doubled)
# === step
total = 3
doubled = total * 2
print(doubled)
