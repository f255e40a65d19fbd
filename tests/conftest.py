"""Shared fixtures: a real jupyter_server with the gateway enabled, and short timeouts."""

from __future__ import annotations

from typing import Any

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server", "pdit_gateway.pytest_plugin"]

#: Gateway traits every test server gets; a module's ``pdit_config`` fixture overrides them.
BASE_CONFIG: dict[str, Any] = {
    "interrupt_grace": 3.0,
    "kernel_poll_interval": 0.5,
    "ping_interval": 0,
    "kernel_pool_size": 0,  # the pool has its own tests; elsewhere it only costs CPU
}


@pytest.fixture
def pdit_config() -> dict[str, Any]:
    """Gateway traits for a test; override in a test module to change them."""
    return {}


@pytest.fixture
def jp_server_config(pdit_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"pdit_gateway": True}, "allow_root": True},
        "PditGatewayApp": {**BASE_CONFIG, **pdit_config},
    }
