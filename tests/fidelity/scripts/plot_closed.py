import matplotlib.pyplot as plt

plt.plot([1, 2])
plt.close()
plt.show()
print("nothing shown")
