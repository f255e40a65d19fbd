"""The gateway's side of script semantics: the kernel set-up, each run's prologue, exit statuses."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from . import kernel_setup

__all__ = [
    "begin_code",
    "exit_status",
    "script_path",
    "setup_code",
    "statement_metadata",
    "unbind_code",
]


@functools.cache
def setup_code() -> str:
    """Return the code that installs :mod:`pdit_gateway.kernel_setup` in a Python kernel.

    The module's source travels inside the code, so a kernel without pdit_gateway (a remote
    one) gets it too; it is installed once per kernel process and defines no user names.
    """
    source = Path(kernel_setup.__file__).read_text(encoding="utf-8")
    name = kernel_setup.MODULE_NAME
    return (
        "def _pdit_gateway_setup(source):\n"
        "    import sys, types\n"
        f"    if {name!r} in sys.modules:\n"
        "        return\n"
        f"    module = types.ModuleType({name!r})\n"
        f"    exec(compile(source, {kernel_setup.SETUP_FILENAME!r}, 'exec'), module.__dict__)\n"
        f"    sys.modules[{name!r}] = module\n"
        "    module.install(get_ipython())\n"
        f"_pdit_gateway_setup({source!r})\n"
        "del _pdit_gateway_setup\n"
    )


def begin_code(
    path: str | None, text: str, fresh: bool, tables: bool = False, setup: bool = False
) -> str:
    """Return the silent code sent before a run's first statement (``kernel_setup.begin``).

    With ``setup`` it starts with the set-up (a no-op where the kernel has it), for a kernel
    that may have lost it: one restarted behind the gateway's back. That costs the kernel about
    6 ms (IPython reads the module's 20 kB of source), so it is sent only then.
    """
    name = kernel_setup.MODULE_NAME
    begin = f"__import__({name!r}).begin({path!r}, {text!r}, {fresh!r}, {tables!r})"
    return setup_code() + begin if setup else begin


def unbind_code(names: frozenset[str]) -> str:
    """Return the silent code that deletes ``names`` from the namespace (where bound).

    A comprehension: its loop variable is its own, so the code binds no name of the user's.
    """
    listed = ", ".join(repr(name) for name in sorted(names))
    return f"[get_ipython().user_ns.pop(_pdit_name, None) for _pdit_name in ({listed},)]"


def statement_metadata(line_start: int) -> dict[str, Any]:
    """Return the ``execute_request`` metadata that marks a script statement and its first line."""
    return {kernel_setup.METADATA_KEY: {"line": line_start}}


def script_path(script_name: str | None, root_dir: str | None) -> str | None:
    """Return the absolute path a script's name stands for, or None when it names no file.

    An absolute name is taken as it is; a relative one is relative to the server's root
    directory (JupyterLab's document paths are).
    """
    if not script_name:
        return None
    if os.path.isabs(script_name):
        return os.path.normpath(script_name)
    if root_dir is None:
        return None
    return os.path.normpath(os.path.join(root_dir, script_name))


def exit_status(evalue: str) -> int:
    """Return the exit status a ``SystemExit`` error output stands for.

    The set-up reports the status python would exit with as the value (``"3"``); a kernel
    without the set-up reports ``str(code)``: empty for ``sys.exit()``, a message otherwise
    (status 1, as python gives it).
    """
    text = evalue.strip()
    if not text or text == "None":
        return 0
    try:
        return int(text)
    except ValueError:
        return 1
