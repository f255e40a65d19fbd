"""Cancels at random moments must never restart the kernel (docs/reliability.md, section II).

Run: ``python bench/cancel_soak.py [--tries 200] [--seed 13] [--max-delay 0.05]``. Starts a
standalone gateway (default settings, ``db_path=:memory:``), sets ``kept = 41`` in a session,
then repeats the attack pass's sequence: execute ``import time; time.sleep(30); x = 1`` with
``y = 2`` queued behind it; on the first ``running`` event cancel the queued one, wait a random
0–``max-delay`` s and cancel the running one. Counts kernel restarts (``kernel-status
restarting``), wrong outcomes (``x = 1`` or ``y = 2`` ran, a status other than ``cancelled``, a
stopped statement whose error is not ``KeyboardInterrupt``) and checks the namespace at the end.
Exits 1 on any restart or wrong outcome.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from pdit_gateway.pytest_plugin import gateway_argv, open_channel, server_process


def event_of(kind: str, execution_id: str) -> Callable[[dict[str, Any]], bool]:
    """Return a predicate: an event of ``kind`` of ``execution_id``."""
    return lambda e: e["type"] == kind and e.get("executionId") == execution_id


async def main(tries: int, seed: int, max_delay: float) -> int:
    token = secrets.token_hex(16)
    argv = gateway_argv(token, "--PditGatewayApp.db_path=:memory:")
    rng = random.Random(seed)
    restarts = 0
    wrong: list[str] = []
    outcomes: Counter[str] = Counter()
    started = time.monotonic()
    async with server_process(argv) as (_, port):
        channel = await open_channel(port, token, "cancel-soak")
        await channel.welcome()
        await channel.run("kept = 41")
        for attempt in range(tries):
            run, queued = f"run{attempt}", f"queued{attempt}"
            await channel.send(
                type="execute", executionId=run, script="import time\ntime.sleep(30)\nx = 1\n"
            )
            await channel.send(type="execute", executionId=queued, script="y = 2\n")
            await channel.until(event_of("running", run))
            await channel.send(type="cancel", executionId=queued)
            await asyncio.sleep(rng.uniform(0, max_delay))
            await channel.send(type="cancel", executionId=run)
            events = await channel.until(event_of("complete", run))
            mine = [e for e in events if e.get("executionId") == run]
            restarts += sum(
                1 for e in events if e["type"] == "kernel-status" and e["state"] == "restarting"
            )
            statuses = {e["index"]: e for e in mine if e["type"] == "result"}
            cancelled = [
                i["index"] for e in mine if e["type"] == "cancelled" for i in e["expressions"]
            ]
            if mine[-1]["status"] != "cancelled" or 2 in statuses or 2 not in cancelled:
                wrong.append(f"{run}: {json.dumps(mine)[:300]}")
            for index, result in statuses.items():
                if result["status"] == "error":
                    ename = result["output"][-1].get("ename")
                    outcomes[f"statement {index}: {ename}"] += 1
                    if ename != "KeyboardInterrupt":
                        wrong.append(f"{run}: statement {index} ended with {ename}")
            if 0 in statuses and 1 not in statuses:
                outcomes["stopped after statement 0"] += 1
        after = await channel.run("kept, 'x' in dir(), 'y' in dir()")
        namespace = "".join(
            str(item.get("content", ""))
            for e in after
            if e["type"] == "result"
            for item in e["output"]
        )
        channel.close()
    print(
        f"tries: {tries} in {time.monotonic() - started:.0f} s "
        f"(seed {seed}, delays 0-{max_delay} s)"
    )
    print(f"kernel restarts: {restarts}")
    print(f"wrong outcomes: {len(wrong)}")
    for line in wrong[:10]:
        print("  ", line)
    print("how the running execution stopped:", dict(outcomes))
    print(f"namespace after: {namespace} (expected (41, False, False))")
    ok = restarts == 0 and not wrong and namespace == "(41, False, False)"
    return 0 if ok else 1


def cli(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-delay", type=float, default=0.05, help="seconds")
    options = parser.parse_args(args)
    return asyncio.run(main(options.tries, options.seed, options.max_delay))


if __name__ == "__main__":
    sys.exit(cli())
