"""The ``pdit-gateway`` command: the standalone server, and ``run`` for scripts in a terminal."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Dispatch ``pdit-gateway run …`` to the runner, anything else to the server."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "run":
        from .run import main as run_main

        sys.exit(run_main(args[1:]))
    from .app import PditGatewayApp

    PditGatewayApp.launch_instance(args)  # type: ignore[no-untyped-call]
