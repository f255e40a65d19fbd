def parse(text):
    try:
        return int(text)
    except ValueError as err:
        raise RuntimeError(f"cannot parse {text!r}") from err


parse("seven")
