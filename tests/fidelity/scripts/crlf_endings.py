print("line one")
x = 2
print(x * 21)
y = 1 / 0
