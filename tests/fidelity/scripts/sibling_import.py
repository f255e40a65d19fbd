import fidelity_helper

print(fidelity_helper.double(21))
print(fidelity_helper.LOADED)
