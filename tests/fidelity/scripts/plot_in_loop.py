import matplotlib.pyplot as plt

for size in (1, 2, 3):
    plt.figure(figsize=(size, size))
    plt.plot([0, size])
    plt.show()
