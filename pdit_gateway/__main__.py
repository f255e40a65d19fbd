"""``python -m pdit_gateway``: the same as the ``pdit-gateway`` command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
