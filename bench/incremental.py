"""Measure an incremental rerun (``mode: "changed"``) beside a full rerun and pdit 0.7.0's rerun.

The script loads its data for 2 s (``time.sleep(2)`` in its loader) and has 50 more statements;
each round edits its last statement and reruns it. A third script loads the same way and ends with a
figure (``plt.figure()``, ``plt.plot(data)``, ``plt.title(...)``, ``plt.show()``); each round edits
the title. The time is the client's, from sending the
``execute`` to receiving its ``complete`` (the gateway's overhead and the socket included).

Run: ``python bench/incremental.py`` (about two minutes; it uses pdit's venv under
bench/.venv-pdit that ``bench/run.py`` creates, or creates it; ``--no-pdit`` leaves pdit out).
It prints a table and writes the raw numbers (``--json``) and a plot (``--plot``). Not a test:
nothing is asserted beyond every run finishing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pditbench.clients import Deadline, gateway_open, gateway_wait_idle, pdit_run
from pditbench.servers import GatewayServer, PditServer, ensure_pdit_venv
from pditbench.wire import Wire

from pdit_gateway.client import execute_frame

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: The statements after the loader (the last one is edited each round).
MORE_STATEMENTS = 50


def script(round_: int, loader: str = "loop") -> str:
    """Return the benchmark script with its last statement as in round ``round_``.

    ``loader`` ``"loop"``: the loader is a loop reading four chunks of 0.5 s; ``"function"``:
    it is a function, ``data = load()``, whose body calls ``time.sleep(2)``; ``"plot"``: that
    function, and the script ends with a figure whose title is edited (the rerun redraws the
    figure: ``plt.figure()``, ``plt.plot(data)``, the title and ``plt.show()`` run).
    """
    if loader == "loop":
        lines = [
            "import time",
            "data = []",
            "for chunk in range(4):  # the loader: reading the data takes 2 s",
            "    time.sleep(0.5)",
            "    data.extend(range(chunk * 250, (chunk + 1) * 250))",
        ]
    else:
        lines = [
            "import time",
            *(["import matplotlib.pyplot as plt"] if loader == "plot" else []),
            "def load():",
            "    time.sleep(2)  # the loader: reading the data takes 2 s",
            "    return list(range(1000))",
            "data = load()",
        ]
    if loader == "plot":
        lines += [f"v{i} = data[{i}] * 2" for i in range(MORE_STATEMENTS - 4)]
        lines += [
            "plt.figure(figsize=(4, 3))",
            "plt.plot(data)",
            f"plt.title('round {round_}')",
            "plt.show()",
        ]
        return "\n".join(lines) + "\n"
    lines += [f"v{i} = data[{i}] * 2" for i in range(MORE_STATEMENTS - 1)]
    lines.append(f"print('round {round_}:', sum(data) + v0)")
    return "\n".join(lines) + "\n"


def draw_script(round_: int) -> str:
    """Return the figure statements of the ``"plot"`` script alone, after its data."""
    plot = script(round_, "plot").split("\n")
    figure = plot[plot.index("plt.figure(figsize=(4, 3))") :]
    return "\n".join(["import matplotlib.pyplot as plt", "data = list(range(1000))", *figure])


async def gateway_execute(wire: Wire, text: str, execution_id: str, **fields: Any) -> float:
    """Send one ``execute``; return the seconds until its ``complete`` arrived (it must be ok)."""
    deadline = Deadline()
    start = time.perf_counter()
    await wire.send(execute_frame(text, execution_id=execution_id, **fields))
    while True:
        raw = await wire.recv(deadline.left())
        if '"complete"' not in raw:
            continue
        event = json.loads(raw)
        if event.get("type") == "complete" and event.get("executionId") == execution_id:
            elapsed = time.perf_counter() - start
            if event["status"] != "ok":
                raise RuntimeError(f"{execution_id} ended {event['status']}")
            return elapsed


async def measure(rounds: int, with_pdit: bool, venv: Path) -> dict[str, Any]:
    """Run every variant ``rounds`` times; return the seconds of each run, by variant."""
    times: dict[str, list[float]] = {
        "changed": [], "full": [], "pdit": [], "function": [], "plot": [], "plot-full": [],
        "draw": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pdit-incremental-") as tmp:
        workdir = Path(tmp)
        name = str(workdir / "analysis.py")
        gateway = GatewayServer(workdir, {"kernel_pool_size": 0})
        pdit = None
        versions: dict[str, str] = {}
        if with_pdit:
            versions = await ensure_pdit_venv(venv, workdir / "pip.log")
            pdit = PditServer(workdir, venv)
        try:
            await gateway.start()
            wire, _ = await gateway_open(gateway, "bench")
            await gateway_wait_idle(wire)
            # the first run (full) is the record the changed runs start from
            await gateway_execute(wire, script(0), "warm", scriptName=name)
            for r in range(1, rounds + 1):
                times["changed"].append(
                    await gateway_execute(
                        wire, script(r), f"changed-{r}", scriptName=name, mode="changed"
                    )
                )
                times["full"].append(
                    await gateway_execute(wire, script(r), f"full-{r}", scriptName=name)
                )
                print(
                    f"round {r}: changed {times['changed'][-1] * 1000:.1f} ms, "
                    f"full {times['full'][-1]:.2f} s",
                    file=sys.stderr,
                )
            # the loader as a function, data = load()
            other = str(workdir / "functions.py")
            await gateway_execute(wire, script(0, "function"), "warm-f", scriptName=other)
            for r in range(1, rounds + 1):
                times["function"].append(
                    await gateway_execute(
                        wire, script(r, "function"), f"function-{r}", scriptName=other,
                        mode="changed",
                    )
                )  # fmt: skip
                print(f"round {r}: function {times['function'][-1]:.2f} s", file=sys.stderr)
            # a figure at the bottom: its title edited
            figure = str(workdir / "figure.py")
            await gateway_execute(wire, script(0, "plot"), "warm-p", scriptName=figure)
            for r in range(1, rounds + 1):
                times["plot"].append(
                    await gateway_execute(
                        wire, script(r, "plot"), f"plot-{r}", scriptName=figure, mode="changed"
                    )
                )
                times["plot-full"].append(
                    await gateway_execute(
                        wire, script(r, "plot"), f"plot-full-{r}", scriptName=figure
                    )
                )
                print(
                    f"round {r}: plot {times['plot'][-1] * 1000:.1f} ms, "
                    f"full {times['plot-full'][-1]:.2f} s",
                    file=sys.stderr,
                )
            # what drawing the figure costs: its four statements alone, after one list
            drawing = str(workdir / "draw.py")
            for r in range(1, rounds + 1):
                times["draw"].append(
                    await gateway_execute(wire, draw_script(r), f"draw-{r}", scriptName=drawing)
                )
                print(f"round {r}: draw {times['draw'][-1] * 1000:.1f} ms", file=sys.stderr)
            wire.close()
            if pdit is not None:
                await pdit.start()
                pdit_wire = await pdit.connect("bench")
                await pdit_run(pdit_wire, script(0))
                for r in range(1, rounds + 1):
                    run = await pdit_run(pdit_wire, script(r))
                    times["pdit"].append(run.elapsed)
                    print(f"round {r}: pdit {run.elapsed:.2f} s", file=sys.stderr)
                pdit_wire.close()
        finally:
            await gateway.stop()
            if pdit is not None:
                await pdit.stop()
    return {
        "rounds": rounds,
        "statements": 3 + MORE_STATEMENTS,
        "times": times,
        "pdit_venv": versions,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_after": os.getloadavg()[0],
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(result: dict[str, Any]) -> str:
    """Return the Markdown table of the medians."""
    labels = {
        "changed": 'gateway, `mode: "changed"` (incremental rerun)',
        "full": 'gateway, `mode: "statements"` (full rerun)',
        "pdit": "pdit 0.7.0 (its rerun: the whole script)",
        "function": 'gateway, `mode: "changed"`, the loader a function (`data = load()`)',
        "plot": 'gateway, `mode: "changed"`, a plot title edited at the bottom (figure redrawn)',
        "plot-full": 'gateway, `mode: "statements"`, the same plot script (full rerun)',
        "draw": "gateway, the figure's four statements alone (a script of just them): the draw",
    }
    rows = [
        "| rerun after editing the last statement | median | min – max |",
        "| --- | --- | --- |",
    ]
    for key, label in labels.items():
        values = result["times"].get(key)
        if not values:
            continue
        rows.append(
            f"| {label} | {_ms(statistics.median(values))} | {_ms(min(values))} – "
            f"{_ms(max(values))} |"
        )
    return "\n".join(rows)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def plot(result: dict[str, Any], path: Path) -> None:
    """Draw the runs of each variant (log scale) into ``path``."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    order = ("changed", "full", "pdit", "function", "plot", "plot-full", "draw")
    names = [k for k in order if result["times"].get(k)]
    labels = {
        "changed": "gateway\nchanged",
        "full": "gateway\nfull rerun",
        "pdit": "pdit 0.7.0",
        "function": "changed,\nloader a\nfunction",
        "plot": "changed,\nplot title",
        "plot-full": "full rerun,\nplot title",
        "draw": "the figure\nalone",
    }
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=120)
    for position, name in enumerate(names):
        values = [v * 1000 for v in result["times"][name]]
        ax.scatter([position] * len(values), values, s=14, alpha=0.6)
        ax.hlines(statistics.median(values), position - 0.25, position + 0.25, color="black")
    ax.axhline(50, color="tab:green", linestyle="--", linewidth=1)
    ax.text(len(names) - 0.5, 55, "50 ms", color="tab:green", ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), [labels[n] for n in names])
    ax.set_ylabel("execute → complete (ms, log)")
    ax.set_title(f"Rerun after editing the last of {result['statements']} statements", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write the JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-pdit", action="store_true", help="leave pdit 0.7.0 out")
    parser.add_argument("--pdit-venv", type=Path, default=HERE / ".venv-pdit")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "incremental.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "img" / "perf-incremental.png")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.rounds, not args.no_pdit, args.pdit_venv))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    if not args.no_plot:
        plot(result, args.plot)
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
