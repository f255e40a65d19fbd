# === step
import random
random.seed(1)
a = random.random()
b = random.random()
print(round(a, 6), round(b, 6))
# === step
import random
random.seed(2)
a = random.random()
b = random.random()
print(round(a, 6), round(b, 6))
# === step
import random
random.seed(2)
a = random.random()
b = random.randint(0, 100)
print(round(a, 6), b)
