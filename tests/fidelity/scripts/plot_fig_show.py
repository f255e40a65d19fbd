import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(3, 3))
ax.plot([1, 3, 2])
fig.show()
other = plt.figure(figsize=(2, 1))
plt.plot([0, 1])
plt.show()
