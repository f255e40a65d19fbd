import warnings


def legacy():
    warnings.warn("legacy() is going away", FutureWarning, stacklevel=2)
    return 1


value = legacy()
print(value)
