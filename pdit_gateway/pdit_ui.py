"""pdit's released web client, found inside the installed ``pdit`` package (``--pdit-ui``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import urlencode

from .errors import PditUIUnavailableError

#: Where the gateway serves pdit's ``index.html`` (relative to the server's base_url).
UI_PATH = "/pdit/ui"

#: Where ``pdit-gateway --pdit-ui script.py`` opens a file: redirects to the UI on it.
EDIT_PREFIX = "pdit/edit"

NOT_INSTALLED = (
    "--pdit-ui serves pdit's own web client, which ships inside the 'pdit' package, and "
    "'pdit' is not installed here. Install it (pip install pdit) or start without --pdit-ui."
)


def pdit_static_dir() -> Path:
    """Return the ``_static`` folder of the installed ``pdit`` package (without importing it).

    Raises
    ------
    PditUIUnavailableError
        ``pdit`` is not installed, or its package holds no built client.
    """
    try:
        spec = importlib.util.find_spec("pdit")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        static = Path(location) / "_static"
        if (static / "index.html").is_file() and (static / "assets").is_dir():
            return static
    if not locations:
        raise PditUIUnavailableError(NOT_INSTALLED)
    raise PditUIUnavailableError(
        f"the installed 'pdit' package ({locations[0]}) holds no built web client "
        "(_static/index.html)"
    )


def editor_query(script: str | None, token: str | None) -> str:
    """Return the query string pdit's client reads: ``?script=…&token=…`` (either may be absent)."""
    params = {key: value for key, value in (("script", script), ("token", token)) if value}
    return "?" + urlencode(params) if params else ""
