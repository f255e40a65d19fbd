# === step
total = 0
total += 5
print(total)
# === step: runs 3
total = 0
total += 5
print("total", total)
# === step
total = 1
total += 5
print("total", total)
