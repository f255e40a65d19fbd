try:
    {}["key"]
except KeyError:
    undefined_name
