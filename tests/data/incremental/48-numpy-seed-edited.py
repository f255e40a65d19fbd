# === step
import numpy as np
base = np.arange(5)
np.random.seed(1)
a = np.random.randint(0, 100, 3)
b = np.random.randint(0, 100, 2)
print(a.tolist(), b.tolist())
print(np.mean(base))
# === step: runs 3 4 5 6
import numpy as np
base = np.arange(5)
np.random.seed(2)
a = np.random.randint(0, 100, 3)
b = np.random.randint(0, 100, 2)
print(a.tolist(), b.tolist())
print(np.mean(base))
# === step: runs 3 4 5 6
import numpy as np
base = np.arange(5)
np.random.seed(2)
a = np.random.randint(0, 100, 3)
b = np.random.randint(0, 1000, 2)
print(a.tolist(), b.tolist())
print(np.mean(base))
# === step: runs 7
import numpy as np
base = np.arange(5)
np.random.seed(2)
a = np.random.randint(0, 100, 3)
b = np.random.randint(0, 1000, 2)
print(a.tolist(), b.tolist())
print(np.mean(base) + 1)
