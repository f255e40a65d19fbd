# === step
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
def load():
    return [1, 4, 9, 16]

data = load()
fig, ax = plt.subplots()
lines = ax.plot(data)
ax.set_title("first")
print(ax.get_title())
# === step: runs 2 8 9 10 11
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
def load():
    return [1, 4, 9, 16]

data = load()
fig, ax = plt.subplots()
lines = ax.plot(data)
ax.set_title("second")
print(ax.get_title())
