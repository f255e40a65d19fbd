# === step
from pathlib import Path
Path("f.txt").write_text("one")
print(Path("f.txt").read_text())
Path("f.txt").write_text("two")
print(Path("f.txt").read_text())
# === step
from pathlib import Path
Path("f.txt").write_text("one")
print("first read", Path("f.txt").read_text())
Path("f.txt").write_text("two")
print(Path("f.txt").read_text())
