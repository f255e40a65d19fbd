# === step
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
lines = ax.plot([1, 2, 3], [1, 4, 9])
ax.set_title("squares")
print(ax.get_title(), len(ax.lines))
# === step: runs 2 4 5 6 7
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
lines = ax.plot([1, 2, 3], [1, 4, 9])
ax.set_title("cubes")
print(ax.get_title(), len(ax.lines))
# === step
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
lines = ax.plot([1, 2, 3], [1, 4, 9])
more = ax.plot([1, 2], [2, 3])
ax.set_title("cubes")
print(ax.get_title(), len(ax.lines))
print(len(fig.axes[0].lines))
