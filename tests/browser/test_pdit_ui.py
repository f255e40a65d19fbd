"""pdit's own released web client, served by ``pdit-gateway --pdit-ui``, runs a script."""

from __future__ import annotations

import html
import os
import queue
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pdit_gateway.process import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "img" / "pdit-ui.png"
#: Seconds for the gateway to start and print the editor's URL.
SERVER_START = 90.0

SCRIPT = '''"""
# A pdit script

Run on **pdit_gateway**, shown by pdit's own editor.
"""
answer = 6 * 7
answer
print("hello from the gateway")
[n * n for n in range(5)]
'''


def _environment(base: Path) -> dict[str, str]:
    return {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }


def _arguments(port: int, token: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pdit_gateway",
        "--pdit-ui",
        *extra,
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        "--PditGatewayApp.db_path=:memory:",
    ]


@dataclass
class Gateway:
    """A standalone gateway started as ``pdit-gateway --pdit-ui demo.py``."""

    editor_url: str
    open_url: str
    token: str
    root: Path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("pdit-ui")
    root = base / "root"
    root.mkdir()
    (root / "demo.py").write_text(SCRIPT, encoding="utf-8")
    port, token = free_port(), uuid.uuid4().hex
    proc = subprocess.Popen(
        _arguments(port, token, "demo.py"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(base),
        cwd=root,
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True)
    reader.start()
    try:
        # the server logs where pdit's editor is, on the script named on the command line
        while True:
            try:
                line = lines.get(timeout=SERVER_START)
            except queue.Empty:
                pytest.fail("the gateway did not start:\n" + "".join(log))
            log.append(line)
            found = re.search(r"pdit's editor: (\S+)", line)
            if found:
                break
        url = found.group(1)
        assert url == f"http://127.0.0.1:{port}/pdit/ui?script=demo.py&token=..."
        # what jupyter_server opens in a browser for the file named on the command line
        opener = base / "runtime" / f"jpserver-file-to-run-{proc.pid}-open.html"
        open_url = html.unescape(re.findall(r'href="([^"]+)"', opener.read_text())[-1])
        assert open_url == f"http://127.0.0.1:{port}/pdit/edit/demo.py?token={token}"
        yield Gateway(url.replace("token=...", f"token={token}"), open_url, token, root)
    finally:
        stop_process(proc)


def test_pdit_ui_runs_a_script_on_the_gateway(
    gateway: Gateway, context: Any, tmp_path: Path
) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # what the browser opens for `pdit-gateway --pdit-ui demo.py`: the file URL, redirected
    page.goto(gateway.open_url)
    assert "script=demo.py" in page.url
    editor = page.locator(".cm-content")
    editor.get_by_text("answer = 6 * 7").wait_for()
    assert "token" not in page.url  # pdit's client keeps the token, off the address bar
    page.locator(".top-bar-split-button-arrow").click()
    page.get_by_text("Run All").click()
    outputs = page.locator(".output-item")
    outputs.filter(has_text="hello from the gateway").wait_for()
    outputs.filter(has_text="[0, 1, 4, 9, 16]").wait_for()
    outputs.filter(has_text="42").first.wait_for()
    page.locator("h1", has_text="A pdit script").wait_for()  # the docstring, as markdown
    # PDIT_SCREENSHOT=1 refreshes the picture in the docs
    shot = SCREENSHOT if os.environ.get("PDIT_SCREENSHOT") == "1" else tmp_path / "pdit-ui.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert errors == []


def test_pdit_ui_saves_through_the_gateway(gateway: Gateway, context: Any) -> None:
    page = context.new_page()
    page.goto(gateway.editor_url)
    editor = page.locator(".cm-content")
    editor.get_by_text("answer = 6 * 7").wait_for()
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nsaved = True\n")
    with page.expect_response("**/api/save-file") as response:
        page.keyboard.press("Control+s")
    assert response.value.status == 200
    assert "saved = True" in (gateway.root / "demo.py").read_text(encoding="utf-8")


def test_pdit_ui_without_pdit_installed_says_so(tmp_path: Path) -> None:
    # the same command, in a Python where the 'pdit' package cannot be found
    code = (
        "import sys; sys.modules['pdit'] = None\n"
        "from pdit_gateway.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    args = _arguments(free_port(), "t")
    done = subprocess.run(
        [sys.executable, "-c", code, *args[3:]],
        capture_output=True,
        text=True,
        env=_environment(tmp_path),
        cwd=tmp_path,
        timeout=SERVER_START,
        check=False,
    )
    assert done.returncode != 0
    assert "'pdit' is not installed" in done.stderr
    assert "pip install pdit" in done.stderr
