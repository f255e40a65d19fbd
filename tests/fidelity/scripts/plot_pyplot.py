import matplotlib.pyplot as plt

plt.figure(figsize=(6, 3))
plt.plot([1, 2, 3], [1, 4, 9])
plt.title("squares")
plt.show()
