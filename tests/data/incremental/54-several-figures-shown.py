# === step
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
plt.figure(figsize=(3, 2), dpi=40)
first = plt.plot(data)
plt.title("one")
plt.show()
plt.figure(figsize=(3, 2), dpi=40)
counts, edges, bars = plt.hist(data)
plt.title("two")
plt.show()
fig, ax = plt.subplots(figsize=(3, 2), dpi=40)
lines = ax.plot(data[::-1])
plt.title("three")
plt.show()
ax.set_xlabel("after the show")
print(ax.get_title(), ax.get_xlabel(), len(fig.axes))
# === step: runs 16 17 18 19 20 21
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
plt.figure(figsize=(3, 2), dpi=40)
first = plt.plot(data)
plt.title("one")
plt.show()
plt.figure(figsize=(3, 2), dpi=40)
counts, edges, bars = plt.hist(data)
plt.title("two")
plt.show()
fig, ax = plt.subplots(figsize=(3, 2), dpi=40)
lines = ax.plot(data[::-1])
plt.title("3")
plt.show()
ax.set_xlabel("after the show")
print(ax.get_title(), ax.get_xlabel(), len(fig.axes))
# === step: runs 8 9 10 11
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
plt.figure(figsize=(3, 2), dpi=40)
first = plt.plot(data)
plt.title("1")
plt.show()
plt.figure(figsize=(3, 2), dpi=40)
counts, edges, bars = plt.hist(data)
plt.title("two")
plt.show()
fig, ax = plt.subplots(figsize=(3, 2), dpi=40)
lines = ax.plot(data[::-1])
plt.title("3")
plt.show()
ax.set_xlabel("after the show")
print(ax.get_title(), ax.get_xlabel(), len(fig.axes))
# === step: runs 12 13 14 15
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
plt.figure(figsize=(3, 2), dpi=40)
first = plt.plot(data)
plt.title("1")
plt.show()
plt.figure(figsize=(3, 2), dpi=40)
counts, edges, bars = plt.hist(data)
plt.title("2")
plt.show()
fig, ax = plt.subplots(figsize=(3, 2), dpi=40)
lines = ax.plot(data[::-1])
plt.title("3")
plt.show()
ax.set_xlabel("after the show")
print(ax.get_title(), ax.get_xlabel(), len(fig.axes))
# === step: runs 16 17 18 19 20 21
import time
import matplotlib.pyplot as plt
def load():
    time.sleep(0.3)
    return [1, 4, 9, 16]

data = load()
plt.figure(figsize=(3, 2), dpi=40)
first = plt.plot(data)
plt.title("1")
plt.show()
plt.figure(figsize=(3, 2), dpi=40)
counts, edges, bars = plt.hist(data)
plt.title("2")
plt.show()
fig, ax = plt.subplots(figsize=(3, 2), dpi=40)
lines = ax.plot(data[::-1])
plt.title("3")
plt.show()
ax.set_xlabel("x, after the show")
print(ax.get_title(), ax.get_xlabel(), len(fig.axes))
