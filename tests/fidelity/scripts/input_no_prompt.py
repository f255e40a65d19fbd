# fidelity-stdin: first|second
a = input()
b = input()
print(b, a)
