import warnings

for i in range(3):
    warnings.warn("said once per place")
print("loop done")
