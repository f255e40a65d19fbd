import os
from pathlib import Path

print(Path.cwd() == Path(__file__).parent)
Path("fidelity_data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
print(open("fidelity_data.csv", encoding="utf-8").read().strip())
os.remove("fidelity_data.csv")
