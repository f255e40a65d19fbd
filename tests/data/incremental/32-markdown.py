# === step
"""# Report"""
x = 1
print(x)
# === step: runs 1
"""# Report, edited"""
x = 1
print(x)
