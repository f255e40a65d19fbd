# fidelity-stdin: Ada|36
name = input("Name: ")
print("hello", name)
age = int(input("Age: "))
print("next year", age + 1)
