"""A sibling module of the fidelity scripts."""

LOADED = "helper loaded"
print("importing the helper")


def double(x):
    return 2 * x
