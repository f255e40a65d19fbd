"""A module docstring: python prints nothing for it."""

1 + 1
"a string expression"
print("only this is printed")
