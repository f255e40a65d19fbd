print("a", "b", sep="-", end="|")
print("c", end="")
print()
print("no newline at the end", end="")
