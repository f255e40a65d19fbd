# === step
i = 100
n = 3
squares = [i * i for i in range(n)]
print(squares, i)
# === step
i = 100
n = 4
squares = [i * i for i in range(n)]
print(squares, i)
# === step
i = 100
n = 4
squares = {i: i * i for i in range(n) if i != 2}
print(squares, i)
