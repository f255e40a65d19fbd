"""Generate the configuration reference (docs/configuration.md) from the traits themselves."""

from __future__ import annotations

import sys
from pathlib import Path

from traitlets import TraitType, Type

from .app import PditGatewayApp

HEADER = """# Configuration reference

Generated from the traits by `python -m pdit_gateway.configdoc docs/configuration.md`;
a test fails when this page and the code disagree.

Every option can be set on the command line (`pdit-gateway --PditGatewayApp.execution_timeout=30`),
in `jupyter_server_config.py` (`c.PditGatewayApp.execution_timeout = 30`, also inside JupyterLab),
or in `jupyter_pdit_gateway_config.py`. jupyter_server's own options (`--port`, `--ip`,
`--IdentityProvider.token`, `--ServerApp.root_dir`, `--GatewayClient.url`, …) apply as usual.
"""


def _default(trait: TraitType) -> str:  # type: ignore[type-arg]
    if isinstance(trait, Type):
        klass = trait.default_value
        return f"`{klass.__module__}.{klass.__qualname__}`"
    return f"`{trait.default_value!r}`"


def render() -> str:
    """Return the Markdown reference of every configurable trait of ``PditGatewayApp``."""
    lines = [HEADER, "| option | type | default | meaning |", "| --- | --- | --- | --- |"]
    own = PditGatewayApp.class_own_traits(config=True)
    for name in sorted(own):
        trait = own[name]
        help_text = " ".join(str(trait.help).split()).replace("|", "\\|")
        kind = type(trait).__name__
        lines.append(f"| `PditGatewayApp.{name}` | {kind} | {_default(trait)} | {help_text} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the reference, or write it to the path given as the only argument."""
    text = render()
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
