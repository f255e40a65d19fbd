"""The five measurements of issue 7; each returns plain JSON-able data for the report."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.manager import start_new_async_kernel
from tornado.httpclient import HTTPClientError

from .clients import (
    Deadline,
    KernelChannels,
    Run,
    gateway_open,
    gateway_run,
    gateway_wait_idle,
    parse_ts,
    pdit_run,
    raw_pipelined,
    raw_sequential,
    script_of,
    trivial_statements,
)
from .rawws import RawChannel
from .servers import GatewayServer, PditServer

#: Seconds the kernel pool may take to refill before the first-result measurement fails.
POOL_TIMEOUT = 60.0
#: Seconds after which a pool kernel the server has not yet seen idle is taken as ready.
POOL_SETTLE = 2.0


@dataclass
class Options:
    """Sizes of one benchmark run (the issue's sizes are the defaults)."""

    statements: int = 200
    rounds: int = 5
    stream_lines: int = 200_000
    sessions: int = 100
    session_statements: int = 20
    concurrent_rounds: int = 3
    replay_events: int = 10_000
    start_concurrency: int = 4
    pdit: bool = True
    #: Clients offer permessage-deflate, as browsers do.
    compression: bool = True
    #: Seconds to let the machine settle between variants whose kernels start or stop.
    settle: float = 1.0


def note(text: str) -> None:
    """Print progress to stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def rotated(items: list[Any], r: int) -> list[Any]:
    """Return ``items`` rotated by ``r``, so each variant takes every position in turn."""
    k = r % len(items) if items else 0
    return items[k:] + items[:k]


# -- (a) per-statement time ---------------------------------------------------------------------

Variant = tuple[str, Callable[[int], Awaitable[Run]]]
#: Which server process does the work of a variant (its CPU time is recorded per run).
SERVER_OF = {
    "gateway": "gateway",
    "gateway-nohist": "gateway",
    "js-seq": "gateway",
    "js-pipe": "gateway",
    "pdit": "pdit",
}


async def statements(
    opts: Options,
    gateway: GatewayServer,
    pdit: PditServer | None,
    kc: Any,
    notebook: KernelChannels,
    busy: set[str],
) -> dict[str, Any]:
    """Time ``opts.statements`` trivial statements in every variant, alternating, ``rounds`` times.

    Returns
    -------
    dict
        ``{"n", "rounds", "runs": {variant: [seconds per run]}, "server_cpu": {variant:
        [CPU seconds the server process used during each run]}, "client_cpu": {variant:
        [CPU seconds of the benchmark process itself]}}`` (jupyter_server's variants run in
        the gateway's own server process).
    """
    n = opts.statements
    codes = trivial_statements(n)
    script = script_of(codes)
    wire, _ = await gateway_open(gateway, "bench")
    await gateway_wait_idle(wire)
    await _pool_ready(gateway, busy)  # the pool refills after the session took its kernel
    pdit_wire = await pdit.connect("bench") if pdit is not None else None

    def gw(store_history: bool) -> Callable[[int], Awaitable[Run]]:
        tag = "h" if store_history else "n"
        return lambda r: gateway_run(wire, script, f"a{tag}{r}", store_history=store_history)

    variants: list[Variant] = [
        ("raw-seq", lambda r: raw_sequential(kc, codes)),
        ("raw-pipe", lambda r: raw_pipelined(kc, codes)),
        ("raw-pipe-nohist", lambda r: raw_pipelined(kc, codes, False)),
        ("gateway", gw(True)),
        ("gateway-nohist", gw(False)),
        ("js-seq", lambda r: notebook.sequential(codes)),
        ("js-pipe", lambda r: notebook.pipelined(codes)),
    ]
    if pdit_wire is not None:
        variants.append(("pdit", lambda r: pdit_run(pdit_wire, script)))
    note(f"(a) warming up {len(variants)} variants")
    for _name, run in variants:
        await run(-1)
    runs: dict[str, list[float]] = {name: [] for name, _ in variants}
    cpu: dict[str, list[float]] = {name: [] for name, _ in variants if name in SERVER_OF}
    client_cpu: dict[str, list[float]] = {name: [] for name, _ in variants}
    servers = {"gateway": gateway, "pdit": pdit}
    for r in range(opts.rounds):
        for name, run in rotated(variants, r):
            server = servers[SERVER_OF[name]] if name in SERVER_OF else None
            before = server.cpu() if server is not None else 0.0
            client_before = time.process_time()
            runs[name].append((await run(r)).elapsed)
            client_cpu[name].append(time.process_time() - client_before)
            if server is not None:
                cpu[name].append(server.cpu() - before)
        note(
            f"(a) round {r + 1}/{opts.rounds}: "
            + ", ".join(f"{k} {v[-1] / n * 1000:.2f}" for k, v in runs.items())
            + " ms/statement"
        )
    wire.close()
    if pdit_wire is not None:
        pdit_wire.close()
    return {
        "n": n,
        "rounds": opts.rounds,
        "runs": runs,
        "server_cpu": cpu,
        "client_cpu": client_cpu,
    }


# -- (b) streaming output -------------------------------------------------------------------------


def printed_text(lines: int) -> str:
    """Return what ``for i in range(lines): print(i)`` prints."""
    return "".join(f"{i}\n" for i in range(lines))


def _gateway_breakdown(frames: list[tuple[float, str]]) -> tuple[Counter[str], str]:
    by_type: Counter[str] = Counter()
    text = []
    for _, frame in frames:
        event = json.loads(frame)
        by_type[event["type"]] += len(frame.encode())
        if event["type"] == "stream":
            text.append(event["text"])
    return by_type, "".join(text)


def _pdit_breakdown(frames: list[tuple[float, str]]) -> tuple[Counter[str], str]:
    by_type: Counter[str] = Counter()
    final = ""
    for _, frame in frames:
        event = json.loads(frame)
        by_type[event["type"]] += len(frame.encode())
        if event["type"] == "result":
            final = "".join(item.get("content", "") for item in event["output"])
    return by_type, final


def _notebook_breakdown(frames: list[tuple[float, str]]) -> tuple[Counter[str], str]:
    by_type: Counter[str] = Counter()
    text = []
    for _, frame in frames:
        msg = json.loads(frame)
        by_type[msg["msg_type"]] += len(frame.encode())
        if msg["msg_type"] == "stream":
            text.append(msg["content"]["text"])
    return by_type, "".join(text)


async def stream(
    opts: Options,
    gateway: GatewayServer,
    pdit: PditServer | None,
    notebook: KernelChannels,
    busy: set[str],
) -> dict[str, Any]:
    """Print ``opts.stream_lines`` lines in each system; count the payload bytes received.

    Returns
    -------
    dict
        ``{"lines", "printed", "json_floor", "runs": {system: [{bytes, frames, elapsed,
        by_type, complete}]}}``; ``complete`` says whether every printed byte arrived.
    """
    code = f"for i in range({opts.stream_lines}):\n    print(i)\n"
    expected = printed_text(opts.stream_lines)
    wire, _ = await gateway_open(gateway, "stream")
    await gateway_wait_idle(wire)
    await _pool_ready(gateway, busy)
    pdit_wire = await pdit.connect("stream") if pdit is not None else None

    async def gw(r: int) -> tuple[Run, Counter[str], str]:
        run = await gateway_run(wire, code, f"s{r}", collect=True)
        return (run, *_gateway_breakdown(run.frames))

    async def pd(r: int) -> tuple[Run, Counter[str], str]:
        assert pdit_wire is not None
        run = await pdit_run(pdit_wire, code, collect=True)
        return (run, *_pdit_breakdown(run.frames))

    async def nb(r: int) -> tuple[Run, Counter[str], str]:
        run = await notebook.collect(code)
        return (run, *_notebook_breakdown(run.frames))

    systems: list[tuple[str, Callable[[int], Awaitable[tuple[Run, Counter[str], str]]]]] = [
        ("gateway", gw),
        ("jupyter_server", nb),
    ]
    if pdit_wire is not None:
        systems.append(("pdit", pd))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in systems}
    for r in range(-1, opts.rounds):  # round -1 warms up
        for name, measure in rotated(systems, r):
            run, by_type, text = await measure(r)
            if r >= 0:
                runs[name].append(
                    {
                        "bytes": run.bytes,
                        "wire": run.wire,
                        "frames": len(run.frames),
                        "elapsed": run.elapsed,
                        "by_type": dict(by_type),
                        "complete": text == expected,
                    }
                )
        if r >= 0:
            note(
                f"(b) round {r + 1}/{opts.rounds}: "
                + ", ".join(f"{k} {v[-1]['bytes']:,} B" for k, v in runs.items())
            )
    wire.close()
    if pdit_wire is not None:
        pdit_wire.close()
    printed = len(expected.encode())
    return {
        "lines": opts.stream_lines,
        "printed": printed,
        "json_floor": len(json.dumps(expected)) - 2,
        "runs": runs,
    }


# -- (c) first result on a brand-new session ----------------------------------------------------


async def _pool_ready(gateway: GatewayServer, busy: set[str]) -> None:
    """Wait until the gateway has a started kernel that no session (and no one else) uses.

    The pool's readiness is not published; its kernel is taken as ready once the server saw
    it idle, or ``POOL_SETTLE`` s after it appeared (the server's own activity watcher can miss
    the pool's first idle status). A first-result round that still finds the pool empty is
    reported as a pool miss.
    """
    deadline = time.monotonic() + POOL_TIMEOUT
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            sessions = await gateway.request("GET", "/pdit/api/sessions")
            kernels = await gateway.request("GET", "/api/kernels")
        except HTTPClientError as err:
            # jupyter_server answers 500 to GET /api/kernels while a kernel it started has
            # no last_activity yet (a moment between the start and its bookkeeping)
            if err.code != 500:
                raise
            await asyncio.sleep(0.1)
            continue
        used = {s["kernel"]["id"] for s in sessions} | busy
        now = time.monotonic()
        for k in kernels:
            if k["id"] in used:
                continue
            first = seen.setdefault(k["id"], now)
            if k["execution_state"] == "idle" or now - first >= POOL_SETTLE:
                await asyncio.sleep(0.3)  # the pool connects right after the kernel's first idle
                return
        await asyncio.sleep(0.1)
    raise TimeoutError("the kernel pool did not refill")


async def first_result(
    opts: Options,
    pooled: GatewayServer,
    unpooled: GatewayServer,
    pdit: PditServer | None,
    busy: set[str],
) -> dict[str, Any]:
    """Time a brand-new session's first result, and a new kernel's ready time.

    ``busy`` holds kernel ids of ``pooled`` that are not the pool's (jupyter_server's own).

    Returns
    -------
    dict
        ``{"runs": {variant: [seconds]}, "pool_misses": rounds whose session found the pool
        empty}``.
    """
    code = "40 + 2"

    pool_misses = 0

    async def gateway_first(server: GatewayServer, sid: str) -> tuple[float, bool]:
        start = time.perf_counter()
        wire, welcome = await gateway_open(server, sid)
        await gateway_run(wire, code, "first", until="result")
        elapsed = time.perf_counter() - start
        wire.close()
        await server.request("DELETE", f"/pdit/api/sessions/{sid}")
        return elapsed, welcome["kernel"]["state"] == "idle"

    async def pool(r: int) -> float:
        nonlocal pool_misses
        await _pool_ready(pooled, busy)
        elapsed, hit = await gateway_first(pooled, f"first-{r}")
        pool_misses += not hit
        return elapsed

    async def nopool(r: int) -> float:
        return (await gateway_first(unpooled, f"first-{r}"))[0]

    async def pdit_first(r: int) -> float:
        assert pdit is not None
        start = time.perf_counter()
        wire = await pdit.connect(f"first-{r}")
        await pdit_run(wire, code, until="result")
        elapsed = time.perf_counter() - start
        wire.close()  # pdit deletes the session and its kernel
        return elapsed

    async def notebook_first(r: int) -> float:
        start = time.perf_counter()
        kernel = await unpooled.request("POST", "/api/kernels", {"name": "python3"})
        channels = await KernelChannels.open(unpooled, kernel["id"])
        await channels.collect(code, until="execute_result")
        elapsed = time.perf_counter() - start
        channels.close()
        await unpooled.request("DELETE", f"/api/kernels/{kernel['id']}")
        return elapsed

    async def kernel_ready(r: int) -> float:
        start = time.perf_counter()
        km, kc = await start_new_async_kernel(kernel_name="python3", startup_timeout=60)
        elapsed = time.perf_counter() - start
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        return elapsed

    variants: list[tuple[str, Callable[[int], Awaitable[float]]]] = [
        ("gateway-pool", pool),
        ("gateway-nopool", nopool),
        ("js-new-kernel", notebook_first),
        ("kernel-ready", kernel_ready),
    ]
    if pdit is not None:
        variants.append(("pdit", pdit_first))
    runs: dict[str, list[float]] = {name: [] for name, _ in variants}
    for r in range(opts.rounds):
        for name, measure in rotated(variants, r):
            runs[name].append(await measure(r))
            await asyncio.sleep(opts.settle)
        note(
            f"(c) round {r + 1}/{opts.rounds}: "
            + ", ".join(f"{k} {v[-1] * 1000:.0f}" for k, v in runs.items())
            + " ms"
        )
    return {"runs": runs, "pool_misses": pool_misses}


# -- (d) many sessions at once --------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Return the ``q``-th percentile (0–100) by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


async def _bounded_gather(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def concurrency(opts: Options, workdir: Path) -> dict[str, Any]:
    """Create ``opts.sessions`` idle sessions on a fresh gateway (RSS before/after), then run a
    script in all of them at once, ``concurrent_rounds`` times (every event's latency).

    Returns
    -------
    dict
        RSS figures in bytes, per-round completion and wall time, and event latencies in s.
    """
    n = opts.sessions
    gateway = GatewayServer(workdir)
    await gateway.start()
    try:
        # warm up: one session created, run and deleted, so first-use allocations are done
        wire, _ = await gateway_open(gateway, "warm")
        await gateway_wait_idle(wire)
        await gateway_run(wire, "print('warm')\nx = 1\nx\n", "warm")
        wire.close()
        await gateway.request("DELETE", "/pdit/api/sessions/warm")
        await _pool_ready(gateway, set())
        await asyncio.sleep(opts.settle)
        rss_before = gateway.rss()
        note(f"(d) gateway RSS {rss_before / 2**20:.1f} MiB; creating {n} sessions")
        started = time.perf_counter()

        async def create(i: int) -> Any:
            wire, _ = await gateway_open(gateway, f"c{i}")
            await gateway_wait_idle(wire)
            return wire

        wires = await _bounded_gather(
            opts.start_concurrency, [lambda i=i: create(i) for i in range(n)]
        )
        created_in = time.perf_counter() - started
        await asyncio.sleep(opts.settle)
        rss_idle = gateway.rss()
        note(
            f"(d) {n} idle sessions in {created_in:.1f} s; gateway RSS {rss_idle / 2**20:.1f} MiB "
            f"({(rss_idle - rss_before) / n / 1024:.0f} KiB per session)"
        )
        codes = ["print('hello')", *trivial_statements(opts.session_statements - 1)]
        script = script_of(codes)
        rounds = []
        latencies: list[float] = []
        for r in range(opts.concurrent_rounds):
            cpu_before = gateway.cpu()
            start = time.perf_counter()
            results = await asyncio.gather(
                *(gateway_run(w, script, f"d{r}", collect=True, timeout=900) for w in wires),
                return_exceptions=True,
            )
            wall = time.perf_counter() - start
            gateway_cpu = gateway.cpu() - cpu_before
            ok = [res for res in results if isinstance(res, Run)]
            failures = [repr(res) for res in results if not isinstance(res, Run)]
            round_latencies = [
                received - parse_ts(event["ts"])
                for res in ok
                for received, frame in res.frames
                if "ts" in (event := json.loads(frame))
            ]
            latencies.extend(round_latencies)
            rounds.append(
                {
                    "completed": len(ok),
                    "failures": failures[:5],
                    "wall": wall,
                    "gateway_cpu": gateway_cpu,
                    "session_elapsed": [res.elapsed for res in ok],
                    "events": len(round_latencies),
                    "p50": percentile(round_latencies, 50),
                    "p99": percentile(round_latencies, 99),
                }
            )
            note(
                f"(d) round {r + 1}/{opts.concurrent_rounds}: {len(ok)}/{n} complete in "
                f"{wall:.1f} s; event latency p50 {rounds[-1]['p50'] * 1000:.1f} ms, "
                f"p99 {rounds[-1]['p99'] * 1000:.1f} ms"
            )
        rss_after = gateway.rss()
        for w in wires:
            w.close()
        await _bounded_gather(
            8,
            [lambda i=i: gateway.request("DELETE", f"/pdit/api/sessions/c{i}") for i in range(n)],
        )
    finally:
        await gateway.stop()
    return {
        "sessions": n,
        "statements": opts.session_statements,
        "created_in": created_in,
        "rss_before": rss_before,
        "rss_idle": rss_idle,
        "rss_after_runs": rss_after,
        "rounds": rounds,
        "latencies": latencies,
    }


# -- (e) resume replay ----------------------------------------------------------------------------


async def replay(opts: Options, gateway: GatewayServer) -> dict[str, Any]:
    """Fill one session's log with ``replay_events`` events, then time ``resume {lastSeq: 0}``
    until the last of them arrives, ``rounds`` times on new connections.

    Returns
    -------
    dict
        ``{"events", "event_bytes", "runs": [seconds], "first": [seconds to the first event],
        "tornado_client": [seconds, read through tornado's client instead]}``.
    """
    target = opts.replay_events
    wire, _ = await gateway_open(gateway, "replay")
    await gateway_wait_idle(wire)
    chunk = max(1, min(1000, target // 3 + 1))
    last_seq = 0
    for i in range(target):  # bounded: every execution adds at least 3 events
        run = await gateway_run(
            wire, script_of([f"print({j})" for j in range(chunk)]), f"e{i}", collect=True
        )
        last_seq = json.loads(run.frames[-1][1])["seq"]
        if last_seq >= target:
            break
    wire.close()
    note(f"(e) session log holds {last_seq} events")
    runs, first, via_tornado, payload = [], [], [], 0
    deadline = Deadline()
    path = "/pdit/api/sessions/replay/channel"
    resume = json.dumps({"type": "resume", "lastSeq": 0})
    for _r in range(opts.rounds):
        # the server's figure: a reader that costs next to nothing per frame
        channel = await RawChannel.connect(gateway.port, path, gateway.token)
        await channel.recv(deadline.left())  # welcome
        start = time.perf_counter()
        await channel.send_text(resume)
        frame = await channel.recv(deadline.left())
        first.append(time.perf_counter() - start)
        if json.loads(frame).get("seq") != 1:
            raise RuntimeError(f"replay did not start at seq 1: {frame[:200]!r}")
        payload = len(frame)
        for _ in range(target - 1):
            frame = await channel.recv(deadline.left())
            payload += len(frame)
        runs.append(time.perf_counter() - start)
        channel.close()
        if json.loads(frame).get("seq") != target:
            raise RuntimeError(f"event {target} of the replay is not seq {target}")
        await asyncio.sleep(opts.settle)
        # the same through tornado's WebSocket client, for comparison
        wire, _ = await gateway_open(gateway, "replay")
        start = time.perf_counter()
        await wire.send(resume)
        for _ in range(target):
            text = await wire.recv(deadline.left())
        via_tornado.append(time.perf_counter() - start)
        wire.close()
        if json.loads(text).get("seq") != target:
            raise RuntimeError(f"event {target} of the replay is not seq {target}")
        await asyncio.sleep(opts.settle)
    note(f"(e) replay of {target} events: median {statistics.median(runs) * 1000:.1f} ms")
    return {
        "events": target,
        "event_bytes": payload,
        "runs": runs,
        "first": first,
        "tornado_client": via_tornado,
    }
