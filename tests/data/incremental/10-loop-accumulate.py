# === step
acc = []
for i in range(3):
    acc.append(i * i)
print(acc)
print(i)
# === step
acc = []
for i in range(5):
    acc.append(i * i)
print(acc)
print(i)
# === step: runs 5
acc = []
for i in range(5):
    acc.append(i * i)
print(acc)
print("last", i)
