"""Which kernels the gateway's launcher starts: the argv rewrite and the factory hook."""

from __future__ import annotations

import logging
import sys

from jupyter_client.multikernelmanager import MultiKernelManager

from pdit_gateway import launching
from pdit_gateway.launching import MODULE, kernel_argv

SPEC = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
LOG = logging.getLogger("test")


def test_ipykernel_of_this_python_gets_the_gateway_launcher():
    assert kernel_argv(SPEC, 0) == [
        "python",
        "-m",
        MODULE,
        "-f",
        "{connection_file}",
        "--GatewayKernelApp.iopub_hwm=0",
    ]
    absolute = [sys.executable, *SPEC[1:], "--debug"]
    assert kernel_argv(absolute, 5000) == [
        sys.executable,
        "-m",
        MODULE,
        "-f",
        "{connection_file}",
        "--debug",
        "--GatewayKernelApp.iopub_hwm=5000",
    ]


def test_other_interpreters_and_other_kernels_keep_their_command():
    assert kernel_argv(["/elsewhere/venv/bin/python", *SPEC[1:]], 0) is None
    assert kernel_argv(["python", "-m", "other_kernel", "-f", "{connection_file}"], 0) is None
    assert kernel_argv(["ipykernel_launcher", "-m"], 0) is None
    assert kernel_argv([], 0) is None


def new_kernel_manager(manager: MultiKernelManager):
    """Make a kernel manager the way MultiKernelManager.pre_start_kernel does (no kernel)."""
    km, _, _ = manager.pre_start_kernel("python3", {})
    return km


def test_only_kernels_started_inside_launching_get_the_launcher(tmp_path):
    manager = MultiKernelManager(connection_dir=str(tmp_path))
    undo = launching.install(manager, LOG)
    hook = manager.kernel_manager_factory
    assert isinstance(hook, launching.LaunchHook)
    # a second install wraps nothing more, and its undo leaves the first hook in place
    again = launching.install(manager, LOG)
    assert manager.kernel_manager_factory is hook
    again()
    assert manager.kernel_manager_factory is hook
    with launching.launching(0):
        assert new_kernel_manager(manager).kernel_spec.argv[2] == MODULE
    # the same server's other kernels (a notebook, /api/kernels) keep ipykernel's launcher
    assert new_kernel_manager(manager).kernel_spec.argv[2] == "ipykernel_launcher"
    with launching.launching(-1):  # kernel_iopub_hwm = -1: leave ipykernel alone
        assert new_kernel_manager(manager).kernel_spec.argv[2] == "ipykernel_launcher"
    undo()
    with launching.launching(0):
        assert new_kernel_manager(manager).kernel_spec.argv[2] == "ipykernel_launcher"


def test_a_kernel_manager_without_a_factory_is_left_alone():
    class Remote:
        pass

    remote = Remote()
    launching.install(remote, LOG)()
    assert not hasattr(remote, "kernel_manager_factory")
