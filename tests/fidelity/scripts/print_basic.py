print("hello")
print("two", "words", 3)
x = 40 + 2
print(f"x = {x}")
