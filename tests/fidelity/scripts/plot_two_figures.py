import matplotlib.pyplot as plt

first = plt.figure(figsize=(3, 2))
plt.plot([1, 2])
second = plt.figure(figsize=(5, 2))
plt.bar(["a", "b"], [3, 4])
plt.show()
