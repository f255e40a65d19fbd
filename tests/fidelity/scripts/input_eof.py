# fidelity-stdin:
value = input("Value: ")
print("got", value)
