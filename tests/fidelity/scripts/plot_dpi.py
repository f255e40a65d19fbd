import matplotlib.pyplot as plt

fig = plt.figure(figsize=(3, 2), dpi=50)
plt.plot([1, 2])
plt.show()
