# === step
N = 3
xs = list(range(N))
print(sum(xs))
print("end")
# === step: runs 1 2 3
N = 4
xs = list(range(N))
print(sum(xs))
print("end")
