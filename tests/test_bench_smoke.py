"""The benchmark runner (bench/run.py) executes end to end at tiny sizes; no timing is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

RUN = Path(__file__).resolve().parent.parent / "bench" / "run.py"
#: Seconds the tiny run may take (it starts three gateways and about ten kernels).
SMOKE_TIMEOUT = 100


def test_bench_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "performance.md"
    results = tmp_path / "results.json"
    # pdit needs a venv from PyPI: the smoke run leaves it out; plots need matplotlib (.[bench])
    plots = find_spec("matplotlib") is not None
    argv = [
        sys.executable,
        str(RUN),
        "--out",
        str(out),
        "--json",
        str(results),
        "--no-pdit",
        "--statements=3",
        "--rounds=1",
        "--stream-lines=50",
        "--sessions=2",
        "--session-statements=2",
        "--concurrent-rounds=1",
        "--replay-events=20",
        "--start-concurrency=2",
        "--settle=0.1",
    ]
    if not plots:
        argv.append("--no-plots")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=SMOKE_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]

    data = json.loads(results.read_text())
    assert set(data["statements"]["runs"]) >= {"raw-seq", "raw-pipe", "gateway", "js-pipe"}
    assert all(len(v) == 1 for v in data["statements"]["runs"].values())
    assert all(r["complete"] for runs in data["stream"]["runs"].values() for r in runs)
    assert data["concurrency"]["rounds"][0]["completed"] == 2
    assert len(data["replay"]["runs"]) == 1

    text = out.read_text()
    assert "## Targets" in text
    assert "## Reading" in text
    assert "pdit was not measured" in text
    if plots:
        names = {p.name for p in (tmp_path / "img").glob("perf-*.png")}
        assert names == {
            "perf-statements.png",
            "perf-stream.png",
            "perf-first-result.png",
            "perf-sessions.png",
            "perf-replay.png",
        }

    # regenerating keeps the hand-written text after the generated part
    sys.path.insert(0, str(RUN.parent))
    try:
        from pditbench import report
    finally:
        sys.path.remove(str(RUN.parent))
    out.write_text(text.replace("## Reading", "## Reading\n\nA hand-written note."))
    report.write(data, out, None)
    again = out.read_text()
    assert "A hand-written note." in again
    assert again.count(report.BEGIN) == 1
    assert again.count("## Targets") == 1


def test_the_incremental_bench_runs_end_to_end(tmp_path: Path) -> None:
    results = tmp_path / "incremental.json"
    argv = [
        sys.executable,
        str(RUN.parent / "incremental.py"),
        "--rounds=1",
        "--no-pdit",
        "--no-plot",
        "--json",
        str(results),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=SMOKE_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    data = json.loads(results.read_text())
    assert {k: len(v) for k, v in data["times"].items()} == {
        "changed": 1,
        "full": 1,
        "pdit": 0,
        "function": 1,
        "plot": 1,
        "plot-full": 1,
        "draw": 1,
    }
    assert '| gateway, `mode: "changed"` (incremental rerun) |' in done.stdout
