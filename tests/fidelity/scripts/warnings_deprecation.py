import warnings

warnings.warn("old API", DeprecationWarning)
print("done")
