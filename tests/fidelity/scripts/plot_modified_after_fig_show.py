import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([1, 2])
fig.show()
ax.set_title("changed after it was shown")
plt.show()
