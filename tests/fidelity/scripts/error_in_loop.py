total = 0
for i in range(5):
    print("step", i)
    if i == 3:
        raise IndexError(f"bad step {i}")
    total += i
