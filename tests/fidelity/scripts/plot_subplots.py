import matplotlib.pyplot as plt

fig, axes = plt.subplots(2, 2, figsize=(8, 6))
for i, ax in enumerate(axes.flat):
    ax.plot(range(i + 2))
fig.suptitle("grid")
plt.show()
