class Account:
    def __init__(self, balance):
        self.balance = balance

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.balance -= amount


account = Account(10)
account.withdraw(3)
print(account.balance)
account.withdraw(100)
