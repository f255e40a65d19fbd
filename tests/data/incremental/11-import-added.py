# === step
r = 2
print(3.14159 * r * r)
# === step
import math
r = 2
print(math.pi * r * r)
# === step
import math
r = 2
print(math.pi * r * r)
print(math.sqrt(r))
