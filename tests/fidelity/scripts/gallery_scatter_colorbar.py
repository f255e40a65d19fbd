"""In the manner of matplotlib's gallery scatter and colorbar examples."""

import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(19680801)
x, y = rng.random((2, 50))
colors = rng.random(50)
sizes = 1000 * rng.random(50)

fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
points = left.scatter(x, y, c=colors, s=sizes, alpha=0.5)
fig.colorbar(points, ax=left)
right.hist(colors, bins=10)
right.set_title("colours")
print(f"{len(x)} points")
plt.show()
