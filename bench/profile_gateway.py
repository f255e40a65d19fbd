"""Profile the gateway process with py-spy while it runs the per-statement benchmark's load.

Run: ``python bench/profile_gateway.py [--statements 200] [--runs 20] [--out PATH]``.
Needs ``py-spy`` (``pip install py-spy``; it attaches to a child process, so as root or with
ptrace allowed). Starts a gateway on 127.0.0.1, runs ``--runs`` executions of N trivial
statements over its WebSocket while ``py-spy record`` samples the gateway (and, with
``--kernel``, the session's kernel, to compare), and prints where the time went: the busiest
frames by own time, and the share of samples in which the process was idle (waiting in the
event loop's ``select``). Writes the raw collapsed stacks and a flame graph SVG next to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from pditbench.clients import (
    gateway_open,
    gateway_run,
    gateway_wait_idle,
    script_of,
    trivial_statements,
)
from pditbench.servers import GatewayServer

HERE = Path(__file__).resolve().parent
#: Seconds py-spy may take to write its output after the load ended.
PYSPY_TIMEOUT = 60.0


def summarise(collapsed: Path, top: int) -> str:
    """Return the busiest frames of a collapsed-stack file: by own samples and inclusive."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = idle = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        if "select (selectors.py" in frames[-1]:
            idle += count
        own[frames[-1]] += count
        for name in {frame.split(" (")[0] for frame in frames}:
            inclusive[name] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples; idle in the event loop's select: {idle / total:.0%}", ""]
    lines += ["own time:"] + [f"{n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "inclusive (below the event loop):"]
    skip = {"_run_module_as_main", "_run_code", "<module>", "main", "start", "run_forever"}
    rows = [
        (name, n)
        for name, n in inclusive.most_common()
        if n < 0.9 * total and name.split(".")[-1] not in skip
    ]
    lines += [f"{n / total:6.1%}  {name}" for name, n in rows[: 2 * top]]
    return "\n".join(lines)


async def load(gateway: GatewayServer, statements: int, runs: int) -> float:
    """Run ``runs`` executions of ``statements`` trivial statements; return s per statement."""
    wire, _ = await gateway_open(gateway, "profile")
    await gateway_wait_idle(wire)
    script = script_of(trivial_statements(statements))
    await gateway_run(wire, script, "warm")
    start = time.perf_counter()
    for r in range(runs):
        await gateway_run(wire, script, f"p{r}")
    elapsed = time.perf_counter() - start
    wire.close()
    return elapsed / (statements * runs)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "profile")
    args = parser.parse_args()
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="pdit-profile-"))
    gateway = GatewayServer(workdir, {"kernel_pool_size": 0})
    await gateway.start()
    try:
        outputs = {"raw": args.out.with_suffix(".txt"), "flamegraph": args.out.with_suffix(".svg")}
        recorders = [
            subprocess.Popen(
                [
                    pyspy,
                    "record",
                    "--pid",
                    str(gateway.pid),
                    "--rate",
                    str(args.rate),
                    "--format",
                    fmt,
                    "--output",
                    str(path),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for fmt, path in outputs.items()
        ]
        await asyncio.sleep(1.0)  # let py-spy attach
        per_statement = await load(gateway, args.statements, args.runs)
        for recorder in recorders:
            recorder.send_signal(subprocess.signal.SIGINT)
        for recorder in recorders:
            recorder.wait(PYSPY_TIMEOUT)
    finally:
        await gateway.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{per_statement * 1000:.2f} ms per statement while profiled (py-spy slows it a little)")
    print(summarise(outputs["raw"], args.top))
    print(f"\ncollapsed stacks: {outputs['raw']}\nflame graph: {outputs['flamegraph']}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
