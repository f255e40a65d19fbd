import os

start = os.getcwd()
os.makedirs("fidelity_sub", exist_ok=True)
os.chdir("fidelity_sub")
print(os.path.basename(os.getcwd()))
os.chdir(start)
os.rmdir("fidelity_sub")
