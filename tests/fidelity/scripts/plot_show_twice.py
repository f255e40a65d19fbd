import matplotlib.pyplot as plt

plt.plot([1, 2])
plt.show()
plt.figure(figsize=(2, 2))
plt.plot([2, 1])
plt.show()
plt.show()
