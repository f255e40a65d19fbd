class ConfigError(Exception):
    """A bad setting."""


def check(value):
    if value < 0:
        raise ConfigError(f"negative: {value}")
    return value


print(check(3))
check(-1)
