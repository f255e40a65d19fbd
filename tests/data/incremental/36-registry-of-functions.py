# === step
handlers = []
def first():
    return K * 1

handlers.append(first)
K = 1
print([h() for h in handlers])
# === step
handlers = []
def first():
    return K * 1

handlers.append(first)
K = 2
print([h() for h in handlers])
