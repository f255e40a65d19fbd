# === step
import matplotlib.pyplot as plt
plt.style.use("default")
plt.rcParams["lines.linewidth"] = 1.5
data = [3, 1, 2]
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data)
plt.title("one")
plt.show()
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data[::-1])
plt.title("two")
plt.show()
print(plt.rcParams["lines.linewidth"], plt.rcParams["axes.facecolor"])
# === step: runs 2 3 5 6 7 8 9 10 11 12 13
import matplotlib.pyplot as plt
plt.style.use("default")
plt.rcParams["lines.linewidth"] = 3
data = [3, 1, 2]
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data)
plt.title("one")
plt.show()
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data[::-1])
plt.title("two")
plt.show()
print(plt.rcParams["lines.linewidth"], plt.rcParams["axes.facecolor"])
# === step: runs 9 10 11 12
import matplotlib.pyplot as plt
plt.style.use("default")
plt.rcParams["lines.linewidth"] = 3
data = [3, 1, 2]
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data)
plt.title("one")
plt.show()
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data[::-1])
plt.title("2")
plt.show()
print(plt.rcParams["lines.linewidth"], plt.rcParams["axes.facecolor"])
# === step: runs 9 10 11 12 13 14
import matplotlib.pyplot as plt
plt.style.use("default")
plt.rcParams["lines.linewidth"] = 3
data = [3, 1, 2]
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data)
plt.title("one")
plt.show()
plt.style.use("ggplot")
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data[::-1])
plt.title("2")
plt.show()
print(plt.rcParams["lines.linewidth"], plt.rcParams["axes.facecolor"])
# === step: runs 2 3 9 10 11 12 13 14
import matplotlib.pyplot as plt
plt.style.use("default")
plt.rcParams["lines.linewidth"] = 3
data = [3, 1, 2]
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data)
plt.title("one")
plt.show()
plt.style.use("bmh")
plt.figure(figsize=(3, 2), dpi=40)
lines = plt.plot(data[::-1])
plt.title("2")
plt.show()
print(plt.rcParams["lines.linewidth"], plt.rcParams["axes.facecolor"])
