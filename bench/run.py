"""Measure the gateway side by side with raw jupyter_client, pdit 0.7.0 and jupyter_server.

Run: ``python bench/run.py --out docs/performance.md`` (about ten minutes on 2 cores the first
time, when it also creates pdit's venv under bench/.venv-pdit from PyPI). It regenerates the
part of the Markdown file between its markers, the plots (``docs/img/perf-*.png``) and a JSON
file of every raw number. ``--help`` lists the sizes; ``--no-pdit`` leaves pdit out (nothing to
install). Not a test: nothing is asserted beyond every run finishing. Linux only (RSS is read
from ``/proc``). Every server is a child process on 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from jupyter_client.manager import start_new_async_kernel
from pditbench import measure, report, servers
from pditbench.clients import KernelChannels
from pditbench.servers import GatewayServer, PditServer, ensure_pdit_venv

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VERSIONS = (
    "pdit_gateway",
    "jupyter_server",
    "jupyter_client",
    "ipykernel",
    "ipython",
    "tornado",
    "pyzmq",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command line options."""
    defaults = measure.Options()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "performance.md")
    parser.add_argument("--img-dir", type=Path, help="where the PNGs go (default: OUT's img/)")
    parser.add_argument(
        "--json", type=Path, default=HERE / "results" / "latest.json", help="raw numbers"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNGs (no matplotlib)")
    parser.add_argument(
        "--from-json",
        type=Path,
        help="measure nothing: rewrite the report and plots from a run's JSON file",
    )
    parser.add_argument("--no-pdit", action="store_true", help="leave pdit 0.7.0 out")
    parser.add_argument("--pdit-venv", type=Path, default=HERE / ".venv-pdit")
    parser.add_argument("--statements", type=int, default=defaults.statements)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--stream-lines", type=int, default=defaults.stream_lines)
    parser.add_argument("--sessions", type=int, default=defaults.sessions)
    parser.add_argument("--session-statements", type=int, default=defaults.session_statements)
    parser.add_argument("--concurrent-rounds", type=int, default=defaults.concurrent_rounds)
    parser.add_argument("--replay-events", type=int, default=defaults.replay_events)
    parser.add_argument(
        "--start-concurrency",
        type=int,
        default=defaults.start_concurrency,
        help="sessions whose kernels start at once in (d)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=defaults.settle,
        help="seconds of quiet between variants that start or stop kernels",
    )
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="clients do not offer permessage-deflate (browsers do; the default offers it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the server logs' temp dir")
    args = parser.parse_args(argv)
    for name in ("statements", "rounds", "stream_lines", "sessions", "replay_events"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.session_statements < 1 or args.concurrent_rounds < 1 or args.start_concurrency < 1:
        parser.error("sizes must be at least 1")
    return args


def git_commit(repo: Path) -> str:
    """Return the short id of the checked-out commit, read from ``.git`` (no git command)."""
    git = repo / ".git"
    try:
        if git.is_file():  # a worktree: ".git" holds "gitdir: PATH"
            git = (repo / git.read_text().split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head[:7]
        ref = head.split(":", 1)[1].strip()
        roots = [git]
        if (git / "commondir").exists():
            roots.append((git / (git / "commondir").read_text().strip()).resolve())
        for root in roots:
            if (root / ref).exists():
                return (root / ref).read_text().strip()[:7]
            packed = root / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line[:7]
    except OSError:
        pass
    return "unknown"


def load_average() -> float:
    """Return the 1-minute load average (how busy the machine was besides the benchmark)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def environment(argv: list[str]) -> dict[str, Any]:
    """Return what the report says about the machine and the software."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration):
        mem_kib = 0
    versions = {}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(REPO),
        "command": shlex.join(["python", "bench/run.py", *argv]),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": mem_kib / 2**20,
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "versions": versions,
    }


async def measure_all(
    opts: measure.Options, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """Start the servers, run (a)–(e) and stop everything; return the raw results."""
    results: dict[str, Any] = {"options": asdict(opts)}
    pdit = None
    if opts.pdit:
        venv = args.pdit_venv.resolve()
        results["pdit_venv"] = await ensure_pdit_venv(venv, workdir / "pip.log")
        pdit = PditServer(workdir, venv)
    pooled = GatewayServer(workdir)
    unpooled = GatewayServer(
        workdir,
        {"kernel_pool_size": 0, "event_log_size": max(10_000, 2 * opts.replay_events + 1000)},
    )
    servers = [s for s in (pooled, unpooled, pdit) if s is not None]
    km = kc = None
    try:
        measure.note("starting the servers and a raw kernel")
        await asyncio.gather(*(server.start() for server in servers))
        km, kc = await start_new_async_kernel(kernel_name="python3", startup_timeout=60)
        kernel = await pooled.request("POST", "/api/kernels", {"name": "python3"})
        notebook = await KernelChannels.open(pooled, kernel["id"])
        busy = {kernel["id"]}  # not the pool's
        results["statements"] = await measure.statements(opts, pooled, pdit, kc, notebook, busy)
        results["stream"] = await measure.stream(opts, pooled, pdit, notebook, busy)
        notebook.close()
        results["first_result"] = await measure.first_result(opts, pooled, unpooled, pdit, busy)
        results["replay"] = await measure.replay(opts, unpooled)
    finally:
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            await km.shutdown_kernel(now=True)
        await asyncio.gather(*(server.stop() for server in servers))
    measure.note(f"(d) {opts.sessions} sessions on a fresh gateway")
    results["concurrency"] = await measure.concurrency(opts, workdir)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the report."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    opts = measure.Options(
        statements=args.statements,
        rounds=args.rounds,
        stream_lines=args.stream_lines,
        sessions=args.sessions,
        session_statements=args.session_statements,
        concurrent_rounds=args.concurrent_rounds,
        replay_events=args.replay_events,
        start_concurrency=args.start_concurrency,
        pdit=not args.no_pdit,
        compression=not args.no_compression,
        settle=args.settle,
    )
    out = args.out.resolve()
    img_dir = None if args.no_plots else (args.img_dir or out.parent / "img").resolve()
    if args.from_json is not None:
        results = json.loads(args.from_json.read_text())
        if img_dir is not None:
            report.plot_all(results, img_dir)
        report.write(results, out, img_dir)
        measure.note(f"rewrote {out} from {args.from_json}")
        return 0
    servers.COMPRESSION = {} if opts.compression else None
    workdir = Path(tempfile.mkdtemp(prefix="pdit-bench-"))
    # every kernel of the run (all inherit it) keeps its IPython history in one database of
    # the run's own, so kernels elsewhere on the machine do not contend for its SQLite lock
    os.environ["IPYTHONDIR"] = str(workdir / "ipython")
    load_before = load_average()
    try:
        results = asyncio.run(measure_all(opts, args, workdir))
    except BaseException:
        print(f"the benchmark failed; server logs are in {workdir}", file=sys.stderr)
        raise
    results["environment"] = environment(argv)
    results["environment"]["load"] = [load_before, load_average()]
    results["environment"]["pdit_venv"] = results.pop("pdit_venv", None)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    if img_dir is not None:
        report.plot_all(results, img_dir)
    report.write(results, out, img_dir)
    measure.note(f"wrote {out}, {args.json}" + (f" and plots in {img_dir}" if img_dir else ""))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
