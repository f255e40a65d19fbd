# === step
class Greeter:
    def __init__(self, name):
        self.name = name

    def greet(self):
        return "hello " + self.name

g = Greeter("ada")
print(g.greet())
print("unrelated")
# === step
class Greeter:
    def __init__(self, name):
        self.name = name

    def greet(self):
        return "hi " + self.name

g = Greeter("ada")
print(g.greet())
print("unrelated")
