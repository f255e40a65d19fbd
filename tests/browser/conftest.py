"""Fixtures for the browser tests: JupyterLab with the built pdit extension, and Chromium.

The tests run only with ``PDIT_BROWSER_TESTS=1``; then a missing prerequisite (the
built extension, Playwright, Chromium) fails them instead of skipping them.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pdit_gateway.process import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "pdit_gateway" / "labextension"
CHROMIUM = os.environ.get("PDIT_CHROMIUM", "/usr/bin/chromium")
ENABLED = os.environ.get("PDIT_BROWSER_TESTS") == "1"
#: Seconds for JupyterLab to start answering.
SERVER_START = 90.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if ENABLED:
        return
    skip = pytest.mark.skip(reason="browser tests run with PDIT_BROWSER_TESTS=1")
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """Replace pytest-jupyter's loop fixture: it would close the loop Playwright runs on."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process ServerApp here (JupyterLab runs in a subprocess): nothing to clean."""


@dataclass
class Lab:
    """A running JupyterLab."""

    url: str
    token: str
    root: Path

    def lab_url(self) -> str:
        return f"{self.url}lab?token={self.token}"

    def write(self, name: str, text: str) -> str:
        (self.root / name).write_text(text, encoding="utf-8")
        return name


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a free port, loading the extension from ``pdit_gateway/labextension``."""
    if not (BUILT / "static" / "style.js").exists():
        pytest.fail("the labextension is not built: cd labextension && jlpm build")
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    extensions = base / "labextensions"
    extensions.mkdir()
    name = json.loads((BUILT / "package.json").read_text())["name"]
    (extensions / name).symlink_to(BUILT, target_is_directory=True)
    # No "official Jupyter news?" notification over the page.
    notification = base / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = free_port()
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    args = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.jpserver_extensions={'pdit_gateway': True}",
        f"--LabApp.extra_labextensions_path={extensions}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        f"--LabApp.user_settings_dir={base / 'settings'}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--PditGatewayApp.db_path=:memory:",
        "--PditGatewayApp.interrupt_grace=3",
    ]
    log = (base / "lab.log").open("w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + SERVER_START
    while True:
        try:
            with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.close()
                pytest.fail("JupyterLab did not start:\n" + (base / "lab.log").read_text())
            time.sleep(0.2)
    try:
        yield Lab(url=url, token=token, root=root)
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, driven by Playwright."""
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is not installed: pip install playwright")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-quic",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own storage) with a desktop-sized viewport."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        ctx.close()
