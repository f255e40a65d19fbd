# === step
import pandas as pd
df = pd.DataFrame({"a": [1.0, None, 3.0]})
df.dropna(inplace=True)
print(len(df))
print(df["a"].sum())
# === step
import pandas as pd
df = pd.DataFrame({"a": [1.0, None, 3.0, None]})
df.dropna(inplace=True)
print(len(df))
print(df["a"].sum())
# === step: runs 5
import pandas as pd
df = pd.DataFrame({"a": [1.0, None, 3.0, None]})
df.dropna(inplace=True)
print(len(df))
print(df["a"].max())
