"""Generate the configuration reference (docs/configuration.md) from the traits themselves."""

from __future__ import annotations

import sys
from pathlib import Path

from traitlets import TraitType, Type
from traitlets.config import Configurable

from .app import FORWARDED, PditGatewayApp
from .introspect import Introspector
from .notebook import NotebookKernelManager
from .pool import KernelPool
from .runner import ExecutionPolicy
from .session_kernel import SessionKernel
from .sessions import PditSessionManager

#: Every configurable class of the gateway, in the order the reference lists them.
CLASSES: tuple[type[Configurable], ...] = (
    PditGatewayApp,
    PditSessionManager,
    ExecutionPolicy,
    SessionKernel,
    KernelPool,
    Introspector,
    NotebookKernelManager,
)

HEADER = """# Configuration reference

Generated from the traits by `python -m pdit_gateway.configdoc docs/configuration.md`;
a test fails when this page and the code disagree.

Each option belongs to the class that uses it, and is set under that class's name: on the
command line (`pdit-gateway --ExecutionPolicy.execution_timeout=30`), in
`jupyter_server_config.py` (`c.ExecutionPolicy.execution_timeout = 30`, also inside
JupyterLab), or in `jupyter_pdit_gateway_config.py`. The app builds the session manager with
`parent=` itself, and the manager builds the other classes with `parent=` itself, as
jupyter_server builds its managers, so each default is the one in the tables below.
jupyter_server's own options (`--port`, `--ip`, `--IdentityProvider.token`,
`--ServerApp.root_dir`, `--GatewayClient.url`, …) apply as usual.
"""

FORWARD_HEADER = """## Names on `PditGatewayApp`

The options below were first all set on `PditGatewayApp`, and keep that name: the app has a
trait of the same type, bounds and default under each, and passes a value set there to the
class that uses the option (`--PditGatewayApp.execution_timeout=30` is
`--ExecutionPolicy.execution_timeout=30`). When both names are set, the class's own wins.
"""


def _default(trait: TraitType) -> str:  # type: ignore[type-arg]
    if isinstance(trait, Type):
        klass = trait.default_value
        return f"`{klass.__module__}.{klass.__qualname__}`"
    return f"`{trait.default_value!r}`"


def _help(trait: TraitType) -> str:  # type: ignore[type-arg]
    return " ".join(str(trait.help).split()).replace("|", "\\|")


def own_options(klass: type[Configurable]) -> dict[str, TraitType]:  # type: ignore[type-arg]
    """Return the configurable traits ``klass`` documents as its own (not forwarded names)."""
    own = klass.class_own_traits(config=True)
    if klass is PditGatewayApp:
        own = {name: trait for name, trait in own.items() if name not in FORWARDED}
    return own


def render() -> str:
    """Return the Markdown reference of every configurable class's traits."""
    lines = [HEADER]
    for klass in CLASSES:
        name = klass.__name__
        doc = " ".join((klass.__doc__ or "").strip().split("\n\n")[0].split())
        lines += [f"## `{name}`", "", doc, ""]
        lines += ["| option | type | default | meaning |", "| --- | --- | --- | --- |"]
        own = own_options(klass)
        for trait_name in sorted(own):
            trait = own[trait_name]
            kind = type(trait).__name__
            lines.append(f"| `{name}.{trait_name}` | {kind} | {_default(trait)} | {_help(trait)} |")
        lines.append("")
    lines += [FORWARD_HEADER, "| name | the option |", "| --- | --- |"]
    for trait_name in sorted(FORWARDED):
        target = f"{FORWARDED[trait_name].__name__}.{trait_name}"
        lines.append(f"| `PditGatewayApp.{trait_name}` | `{target}` |")
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
