"""The incremental-rerun corpus through the gateway: after every edit, what a ``changed`` run shows
equals what a full run on a fresh kernel shows.

Every sequence of ``tests/data/incremental/`` goes through the unit corpus's ``check_sequence``
with two runners on one standalone gateway: a full run (``mode: "statements"``) after a
``reset`` (a fresh kernel process), in a copy of the folder the incremental run found, and the
incremental run (``mode: "changed"``) in one session. What a statement shows is compared
without what differs between two runs by nature (durations, execution counts, the folder's
name).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from pdit_gateway.process import gateway_argv
from pdit_gateway.pytest_plugin import (
    SOCKET_WAIT,
    ChannelClient,
    open_channel,
    standalone_gateway,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_dataflow_corpus import (
    CASES,
    SCRIPT_NAME,
    Case,
    Shown,
    check_sequence,
)

T = TypeVar("T")
#: seconds one step (a reset, a run) may take
STEP_WAIT = 120.0


@dataclass
class Gateway:
    port: int
    token: str
    root: Path
    loop: asyncio.AbstractEventLoop

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the gateway's client loop; wait for it (bounded)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(STEP_WAIT)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One standalone gateway for the whole corpus, and a thread running its clients' loop."""
    base = tmp_path_factory.mktemp("incremental")
    root = base / "root"
    root.mkdir()
    token = uuid.uuid4().hex
    argv = gateway_argv(
        token,
        f"--ServerApp.root_dir={root}",
        "--PditGatewayApp.db_path=:memory:",
        "--PditGatewayApp.kernel_pool_size=0",
        "--PditGatewayApp.ping_interval=0",
    )
    # the gateway's own backend: figures shown by plt.show() are compared by their bytes
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="corpus-clients", daemon=True)
    thread.start()
    try:
        with standalone_gateway(argv, token, base / "gateway.log", env) as port:
            yield Gateway(port, token, root, loop)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


async def _session(gateway: Gateway, session_id: str, path: str) -> ChannelClient:
    """Create a session whose kernel starts in ``path``'s folder; open its channel."""
    request = HTTPRequest(
        f"http://127.0.0.1:{gateway.port}/pdit/api/sessions",
        method="POST",
        headers={"Authorization": f"token {gateway.token}"},
        body=json.dumps({"sessionId": session_id, "path": path}),
    )
    await AsyncHTTPClient().fetch(request)
    channel = await open_channel(gateway.port, gateway.token, session_id)
    await channel.welcome()
    return channel


def shown_of(events: list[dict[str, Any]], folder: Path) -> list[Shown]:
    """What every statement of an execution shows, from its events."""
    expressions = next(e for e in events if e["type"] == "expressions")["expressions"]
    by_index = {e["index"]: e for e in events if e["type"] == "result"}
    shown = []
    for expression in expressions:
        result = by_index.get(expression["index"])
        lines = (expression["lineStart"], expression["lineEnd"])
        if result is None:
            shown.append(Shown(*lines, "cancelled", ""))
            continue
        text = "".join(_item_text(item) for item in result["output"])
        text = text.replace(str(folder), "<folder>")
        shown.append(Shown(*lines, result["status"], text, bool(result.get("cached"))))
    return shown


def _item_text(item: dict[str, Any]) -> str:
    kind = item["type"]
    content = str(item.get("content", ""))
    if kind.startswith("image/"):
        content = hashlib.sha256(content.encode()).hexdigest()[:16]
    return f"[{kind}] {content}\n"


class FullRun:
    """A full run on a fresh kernel, in a copy of the folder the incremental run found."""

    def __init__(self, gateway: Gateway, case: str, source: Path) -> None:
        self.gateway = gateway
        self.source = source
        self.folder = gateway.root / case / "full"
        self.channel = gateway.call(_session(gateway, f"full-{case}", f"{case}/full/x.py"))
        self.outputs: list[str] = []

    def __call__(self, script: str) -> list[Shown]:
        shutil.rmtree(self.folder, ignore_errors=True)
        shutil.copytree(self.source, self.folder)
        events = self.gateway.call(
            self.channel.run(
                script, STEP_WAIT, scriptName=str(self.folder / SCRIPT_NAME), reset=True
            )
        )
        shown = shown_of(events, self.folder)
        self.outputs.extend(s.output for s in shown)
        return shown


class IncrementalRun:
    """Changed runs in one session."""

    def __init__(self, gateway: Gateway, case: str) -> None:
        self.gateway = gateway
        self.folder = gateway.root / case / "inc"
        self.folder.mkdir(parents=True)
        self.channel = gateway.call(_session(gateway, f"inc-{case}", f"{case}/inc/x.py"))

    def __call__(self, script: str) -> list[Shown]:
        events = self.gateway.call(
            self.channel.run(
                script, STEP_WAIT, scriptName=str(self.folder / SCRIPT_NAME), mode="changed"
            )
        )
        return shown_of(events, self.folder)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_changed_runs_match_full_runs_on_fresh_kernels(gateway: Gateway, case: Case) -> None:
    incremental = IncrementalRun(gateway, case.name)
    full = FullRun(gateway, case.name, incremental.folder)
    try:
        check_sequence(case, full, incremental)
        if any("plt.show()" in step.script and "Agg" not in step.script for step in case.steps):
            # the figures were compared by their bytes: they were shown
            assert any("[image/png]" in output for output in full.outputs)
    finally:
        for runner in (full, incremental):
            gateway.call(_close(runner.channel))
        for session in (f"full-{case.name}", f"inc-{case.name}"):
            gateway.call(_delete(gateway, session))


async def _close(channel: ChannelClient) -> None:
    channel.close()  # on the loop the connection lives on


async def _delete(gateway: Gateway, session_id: str) -> None:
    request = HTTPRequest(
        f"http://127.0.0.1:{gateway.port}/pdit/api/sessions/{session_id}",
        method="DELETE",
        headers={"Authorization": f"token {gateway.token}"},
    )
    await asyncio.wait_for(AsyncHTTPClient().fetch(request, raise_error=False), SOCKET_WAIT)
