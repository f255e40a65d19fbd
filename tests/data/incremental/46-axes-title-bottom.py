# === step
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
fig, ax = plt.subplots(figsize=(3, 2), dpi=40)
lines = ax.plot(data)
ax.set_title("first")
print(ax.get_title(), len(ax.lines), len(fig.axes))
plt.show()
# === step: runs 8 9 10 11 12
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
fig, ax = plt.subplots(figsize=(3, 2), dpi=40)
lines = ax.plot(data)
ax.set_title("second")
print(ax.get_title(), len(ax.lines), len(fig.axes))
plt.show()
# === step: runs 8 9 10 11 12 13
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
fig, ax = plt.subplots(figsize=(3, 2), dpi=40)
lines = ax.plot(data)
ax.set_title("second")
ax.set_xlabel("x")
print(ax.get_title(), len(ax.lines), len(fig.axes))
plt.show()
