import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(4, 4))
ax.plot([0, 1], [1, 0])
ax.set_title("diagonal")
plt.show()
