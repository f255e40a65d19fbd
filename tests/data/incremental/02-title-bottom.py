# === step
def slow_load():
    return [3, 1, 2]

data = slow_load()
total = sum(data)
print("total", total)
title = "Totals"
print(f"{title}: {total}")
# === step: runs 7 8
def slow_load():
    return [3, 1, 2]

data = slow_load()
total = sum(data)
print("total", total)
title = "Sums"
print(f"{title}: {total}")
