"""# pdit gateway demo

A plain Python script, run **statement by statement** on a Jupyter kernel.
Each statement's output appears under its line numbers; this string is markdown.

Run it with `pdit-gateway run examples/demo.py`.
"""

import time

import matplotlib.pyplot as plt
from IPython.display import HTML, display

planets = {"Mercury": 0.39, "Venus": 0.72, "Earth": 1.00, "Mars": 1.52}
names = sorted(planets, key=planets.get)

for step, name in enumerate(names, start=1):
    print(f"step {step}: measuring {name}…")
    time.sleep(0.2)  # the lines arrive one by one, not all at the end

# an expression: its value is the statement's result
{name: round(au * 149.6, 1) for name, au in planets.items()}

rows = "".join(f"<tr><td>{name}</td><td>{au:.2f}</td></tr>" for name, au in planets.items())
display(HTML(f"<table><tr><th>planet</th><th>AU</th></tr>{rows}</table>"))

# a plot built over several statements appears once, finished, where the script shows it
plt.figure(figsize=(6, 3))
plt.bar(names, [planets[name] for name in names], color="tab:orange")
plt.ylabel("distance from the Sun (AU)")
plt.title("The inner planets")
plt.show()

farthest = names[-1]
f"The farthest of the **{len(planets)}** planets here is **{farthest}**."
