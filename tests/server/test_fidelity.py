"""Differential suite: each script of tests/fidelity/scripts runs as ``python script.py`` and
through the gateway (twice, in one session), and what the two show must be the same.

Compared: stdout (with ``input()`` prompts, as python writes them there), stderr (with the
traceback python prints), the exit status, and the figures (how many, their size in pixels,
the statement that showed them). The gateway's results beside lines (values of bare
expressions, markdown strings) are what it adds: they are not part of the comparison.
A script's ``# fidelity-stdin: a|b`` line gives its standard input, one line per ``|`` part.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pdit_gateway.pytest_plugin import SOCKET_WAIT
from pdit_gateway.splitter import split_script

HERE = Path(__file__).resolve().parent.parent / "fidelity"
SCRIPTS = sorted(
    p.name for p in (HERE / "scripts").glob("*.py") if not p.name.startswith("fidelity_")
)
STDIN_MARK = "# fidelity-stdin:"


def stdin_lines(source: str) -> list[str] | None:
    """Return the script's standard input lines, or None when it reads none."""
    for line in source.splitlines():
        if line.startswith(STDIN_MARK):
            text = line[len(STDIN_MARK) :].strip()
            return text.split("|") if text else []
    return None


def statement_of(source: str, line: int | None) -> int | None:
    """Return the index of the top-level statement that holds ``line``."""
    if line is None:
        return None
    for statement in split_script(source):
        if statement.line_start <= line <= statement.line_end:
            return statement.index
    return None


def png_size(item: dict[str, Any]) -> tuple[int, int]:
    data = base64.b64decode(item["content"])
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def run_python(script: Path, stdin: list[str] | None) -> dict[str, Any]:
    """Run ``python script.py`` in the script's folder, as a user would."""
    figures = script.parent / ".fidelity-figures.jsonl"
    figures.unlink(missing_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "MPL", "JPY_", "PYTEST"))
    }
    env.update(
        PYTHONPATH=str(HERE / "python_env"),
        PYTHONIOENCODING="utf-8",
        FIDELITY_FIGURES=str(figures),
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=script.parent,
        input="".join(line + "\n" for line in stdin or []).encode(),
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    source = script.read_text(encoding="utf-8")
    shown = []
    if figures.exists():
        for record in figures.read_text(encoding="utf-8").splitlines():
            figure = json.loads(record)
            shown.append((figure["width"], figure["height"], statement_of(source, figure["line"])))
        figures.unlink()
    return {
        "stdout": done.stdout.decode("utf-8"),
        "stderr": done.stderr.decode("utf-8"),
        "status": done.returncode,
        "figures": shown,
    }


async def run_gateway(channel: Any, script: Path, stdin: list[str] | None) -> dict[str, Any]:
    """Run the script through the gateway, answering ``input()`` from ``stdin``."""
    source = script.read_text(encoding="utf-8")
    pending = list(stdin or [])
    execution_id = await channel.execute(source, scriptName=str(script))
    stdout: list[str] = []
    stderr: list[str] = []
    figures: list[tuple[int, int, int]] = []
    status: int | None = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SOCKET_WAIT
    while status is None:
        try:
            event = await channel.recv(max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            seen = [e for e in channel.received if e.get("executionId") == execution_id]
            raise AssertionError(f"no complete; events: {seen}") from None
        if event.get("executionId") != execution_id:
            continue
        kind = event["type"]
        if kind == "input-request":
            stdout.append(event["prompt"])
            value = pending.pop(0) if pending else "\x04"
            await channel.send(type="input-reply", executionId=execution_id, value=value)
        elif kind == "stream":
            (stdout if event["name"] == "stdout" else stderr).append(event["text"])
        elif kind == "result":
            for item in event["output"]:
                if item["type"] == "error":
                    stderr.append(item["content"] + "\n")
                elif item["type"] == "image/png":
                    figures.append((*png_size(item), event["index"]))
        elif kind == "complete":
            exit_code = event.get("exitCode")
            status = {"ok": 0, "error": 1}.get(
                event["status"], exit_code & 0xFF if isinstance(exit_code, int) else -1
            )
    return {
        "stdout": "".join(stdout),
        "stderr": "".join(stderr),
        "status": status,
        "figures": figures,
    }


@pytest.fixture
def script_dir(jp_root_dir: Path) -> Path:
    """The server's root directory, holding a copy of the corpus (its sibling module too)."""
    for source in (HERE / "scripts").iterdir():
        shutil.copyfile(source, jp_root_dir / source.name)
    return jp_root_dir


def test_the_corpus_is_large_enough():
    assert len(SCRIPTS) >= 40


@pytest.mark.parametrize("name", SCRIPTS)
async def test_a_script_runs_as_python_runs_it(jp_serverapp, pdit_channel, script_dir, name):
    script = script_dir / name
    stdin = stdin_lines(script.read_text(encoding="utf-8"))
    expected = run_python(script, stdin)
    channel = await pdit_channel(f"fidelity-{Path(name).stem}".replace("_", "-"))
    await channel.welcome()
    try:
        first = await run_gateway(channel, script, stdin)
        assert first == expected
        # a rerun in the same kernel starts as a new python process would
        second = await run_gateway(channel, script, stdin)
        assert second == expected
    finally:
        channel.close()
