# === step
import time
import numpy as np
def load():
    time.sleep(0.3)
    return np.arange(10.0)

data = load()
print(data.mean())
print(data.max())
# === step: runs 8
import time
import numpy as np
def load():
    time.sleep(0.3)
    return np.arange(10.0)

data = load()
print(data.mean() * 2)
print(data.max())
# === step: runs 8 9
import time
import numpy as np
def load():
    time.sleep(0.3)
    return np.arange(10.0)

data = load()
print(np.mean(data) * 2)
print(data.std(), data.sum())
