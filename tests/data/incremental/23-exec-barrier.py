# === step
x = 2
exec("y = x * 2")
print(y)
z = 5
print(z)
# === step
x = 3
exec("y = x * 2")
print(y)
z = 5
print(z)
# === step: runs 5
x = 3
exec("y = x * 2")
print(y)
z = 5
print("z", z)
