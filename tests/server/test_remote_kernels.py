"""Sessions on remote kernels: the gateway in jupyter_server's gateway mode, against a real
Jupyter Kernel Gateway on loopback."""

from __future__ import annotations

import secrets
import sys
from contextlib import asynccontextmanager

from pdit_gateway.pytest_plugin import (
    fetch_json,
    free_port,
    gateway_argv,
    open_channel,
    results,
    server_process,
    texts,
)


@asynccontextmanager
async def remote_gateways():
    """A Kernel Gateway, and a pdit gateway whose kernels live there; yields their addresses."""
    kg_token, token = secrets.token_hex(8), secrets.token_hex(8)
    kernel_gateway = [
        sys.executable,
        "-m",
        "kernel_gateway",
        "--KernelGatewayApp.ip=127.0.0.1",
        f"--KernelGatewayApp.port={free_port()}",
        f"--KernelGatewayApp.auth_token={kg_token}",
        "--JupyterWebsocketPersonality.list_kernels=True",
    ]
    async with server_process(kernel_gateway, rb"available at http://127\.0\.0\.1:(\d+)") as (
        _,
        kg_port,
    ):
        kg_url = f"http://127.0.0.1:{kg_port}"
        argv = gateway_argv(
            token,
            f"--GatewayClient.url={kg_url}",
            f"--GatewayClient.auth_token={kg_token}",
            "--PditGatewayApp.kernel_pool_size=0",
            "--PditGatewayApp.kernel_poll_interval=1",
            "--PditGatewayApp.interrupt_grace=5",
            "--PditGatewayApp.db_path=:memory:",
        )
        async with server_process(argv) as (_, port):
            yield {"kg": kg_url, "kg_token": kg_token, "port": port, "token": token}


async def remote_kernel_ids(remote):
    code, kernels = await fetch_json(f"{remote['kg']}/api/kernels", remote["kg_token"])
    assert code == 200
    return {kernel["id"] for kernel in kernels}


async def test_scripts_run_on_remote_kernels():
    async with remote_gateways() as remote:
        await check_remote_sessions(remote)


async def check_script_semantics(client, path):
    """The kernel set-up travels to a remote kernel: the script's identity, python's
    tracebacks and figures where the script shows them."""
    script = (
        "import matplotlib.pyplot as plt\n"
        "plt.figure(figsize=(3, 2))\n"
        "plt.plot([1, 2])\n"
        "plt.show()\n"
        "__file__\n"
        "def f():\n"
        "    return 1 / 0\n"
        "f()\n"
    )
    events = await client.run(script, scriptName=path)
    shown = [
        r["index"] for r in results(events) for item in r["output"] if item["type"] == "image/png"
    ]
    assert shown == [3]
    assert texts(results(events)[4]) == repr(path)
    traceback = results(events)[-1]["output"][-1]["traceback"]
    assert f'  File "{path}", line 7, in f' in traceback


async def check_remote_sessions(remote):
    client = await open_channel(remote["port"], remote["token"], "remote")
    await client.welcome()
    events = await client.run("import os\nprint('pid', os.getpid())\nvalue = 6 * 7\nvalue")
    assert events[-1]["status"] == "ok"
    assert texts(results(events)[-1]) == "42"
    code, snapshot = await fetch_json(
        f"http://127.0.0.1:{remote['port']}/pdit/api/sessions/remote", remote["token"]
    )
    assert code == 200
    kernel_id = snapshot["kernel"]["id"]
    assert kernel_id in await remote_kernel_ids(remote)
    await check_script_semantics(client, "/srv/analysis.py")

    # a timeout interrupts the remote kernel; the namespace survives
    timed = await client.run("while True:\n    pass\n", timeout=1)
    assert timed[-1]["status"] == "timeout"
    assert results(timed)[0]["output"][-1]["ename"] == "KeyboardInterrupt"
    assert texts(results(await client.run("value"))[0]) == "42"

    # the remote kernel dies: the run ends with kernel-died, and the session goes on
    died = await client.run("print('bye')\nimport os\nos._exit(1)\nnever = 1\n")
    assert died[-1]["status"] == "kernel-died"
    cancelled = next(e for e in died if e["type"] == "cancelled")
    assert cancelled["reason"] == "kernel-died"
    after = await client.run("'value' in dir(), 1 + 1", wait=120)
    assert after[-1]["status"] == "ok"
    assert texts(results(after)[0]) == "(False, 2)"
    # the kernel the remote gateway restarted got the script set-up again
    await check_script_semantics(client, "/srv/again.py")

    # deleting the session shuts the remote kernel down
    code, _ = await fetch_json(
        f"http://127.0.0.1:{remote['port']}/pdit/api/sessions/remote", remote["token"], "DELETE"
    )
    assert code == 204
    assert kernel_id not in await remote_kernel_ids(remote)
    client.close()
