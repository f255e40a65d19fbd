# === step
point = (0, 5)
match point:
    case (0, yv):
        where = f"on y at {yv}"
    case (xv, 0):
        where = f"on x at {xv}"
    case _:
        where = "elsewhere"
print(where)
# === step
point = (4, 0)
match point:
    case (0, yv):
        where = f"on y at {yv}"
    case (xv, 0):
        where = f"on x at {xv}"
    case _:
        where = "elsewhere"
print(where)
