import os

import matplotlib.pyplot as plt

plt.plot([3, 1, 2])
plt.savefig("fidelity_plot.png")
print(os.path.getsize("fidelity_plot.png") > 0)
os.remove("fidelity_plot.png")
