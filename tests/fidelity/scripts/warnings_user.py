import warnings

print("start")
warnings.warn("this is a warning")
print("end")
