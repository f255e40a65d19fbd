# === step
import pandas as pd
df = pd.DataFrame({"a": [1.0, None, 3.0], "b": [None, 2.0, 3.0]})
df.dropna(inplace=True)
print(len(df))
print(df.describe().loc["mean"].tolist())
# === step: runs 2 3 4 5
import pandas as pd
df = pd.DataFrame({"a": [1.0, None, 3.0], "b": [None, 2.0, 3.0]})
df.dropna(subset=["a"], inplace=True)
print(len(df))
print(df.describe().loc["mean"].tolist())
# === step: runs 5
import pandas as pd
df = pd.DataFrame({"a": [1.0, None, 3.0], "b": [None, 2.0, 3.0]})
df.dropna(subset=["a"], inplace=True)
print(len(df))
print(df.head(1).to_numpy().tolist())
