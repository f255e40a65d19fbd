import matplotlib.pyplot as plt


def draw(values):
    plt.figure(figsize=(4, 2))
    plt.plot(values)
    plt.show()


draw([1, 2, 3])
draw([3, 2, 1])
