# === step
class Report:
    def title(self):
        return PREFIX + " report"

r = Report()
PREFIX = "daily"
print(r.title())
# === step
class Report:
    def title(self):
        return PREFIX + " report"

r = Report()
PREFIX = "weekly"
print(r.title())
