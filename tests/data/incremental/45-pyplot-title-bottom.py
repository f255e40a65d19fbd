# === step
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data)
plt.title("first")
print(plt.gca().get_title(), len(plt.gca().lines))
plt.show()
# === step: runs 8 9 10 11 12
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data)
plt.title("second")
print(plt.gca().get_title(), len(plt.gca().lines))
plt.show()
# === step: runs 8 9 10 11 12
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data, "o-")
plt.title("second")
print(plt.gca().get_title(), len(plt.gca().lines))
plt.show()
