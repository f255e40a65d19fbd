print("raising")
raise SystemExit(5)
