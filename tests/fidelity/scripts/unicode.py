text = "naïve café — 日本語 — 🐍"
print(text)
print(len(text))
print("ß".upper(), "ǅ".lower())
