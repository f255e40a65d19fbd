"""pdit_gateway: Python scripts run statement by statement on Jupyter kernels."""

from __future__ import annotations

from typing import Any

from ._version import __version__


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "pdit-gateway"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import PditGatewayApp

    return [{"module": "pdit_gateway", "app": PditGatewayApp}]


__all__ = ["__version__"]
