# === step
import random
random.seed(0)
xs = list(range(8))
random.shuffle(xs)
print(xs)
print(sum(xs))
# === step
import random
random.seed(0)
xs = list(range(8))
random.shuffle(xs)
random.shuffle(xs)
print(xs)
print(sum(xs))
# === step
import random
random.seed(0)
xs = list(range(8))
random.shuffle(xs)
random.shuffle(xs)
print(xs)
print(sum(xs), len(xs))
