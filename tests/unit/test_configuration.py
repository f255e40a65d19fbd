"""Configuration in one place: each option on the class that uses it, its first name forwarded."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from jupyter_server.serverapp import ServerApp
from traitlets.config import Config, Configurable

import pdit_gateway
from pdit_gateway.app import FORWARDED, PditGatewayApp
from pdit_gateway.configdoc import CLASSES, own_options
from pdit_gateway.pool import KernelPool
from pdit_gateway.runner import ExecutionPolicy
from pdit_gateway.session_kernel import SessionKernel
from pdit_gateway.sessions import PditSessionManager

#: Modules that start a kernel or a browser test when imported, and define no configurable.
NOT_IMPORTED = {"pdit_gateway.kernel_launcher", "pdit_gateway.__main__"}


def configurables() -> set[type[Configurable]]:
    """Return every Configurable subclass defined in the package."""
    found: set[type[Configurable]] = set()
    for module_info in pkgutil.iter_modules(pdit_gateway.__path__, "pdit_gateway."):
        if module_info.name in NOT_IMPORTED:
            continue
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Configurable) and value.__module__ == module.__name__:
                found.add(value)
    return found


def test_every_configurable_class_is_in_the_reference():
    assert configurables() == set(CLASSES)


def test_every_option_says_what_it_means():
    for klass in CLASSES:
        for name, trait in klass.class_own_traits(config=True).items():
            words = str(trait.help).split()
            assert len(words) >= 6, f"{klass.__name__}.{name}: {trait.help!r}"


def test_each_option_has_one_home_and_one_default():
    homes: dict[str, list[str]] = {}
    for klass in CLASSES:
        for name in own_options(klass):
            homes.setdefault(name, []).append(klass.__name__)
    assert {name: where for name, where in homes.items() if len(where) > 1} == {}
    for name, klass in FORWARDED.items():
        assert homes[name] == [klass.__name__]
        ours, theirs = PditGatewayApp.class_traits()[name], klass.class_traits()[name]
        assert type(ours) is type(theirs)
        assert ours.default_value == theirs.default_value
        assert getattr(ours, "min", None) == getattr(theirs, "min", None)


def test_the_old_defaults_are_kept():
    # the defaults users had on PditGatewayApp (the runner's own RunOptions disagreed)
    assert ExecutionPolicy().pipeline_depth == 1
    assert ExecutionPolicy().max_output_bytes == 4 * 1024 * 1024
    assert KernelPool.class_traits()["kernel_pool_size"].default_value == 1
    assert SessionKernel.class_traits()["digest_history_size"].default_value == 4096
    assert PditSessionManager.class_traits()["event_log_bytes"].default_value == 16 * 1024 * 1024


def manager(config: Config) -> PditSessionManager:
    app = PditGatewayApp(config=config)
    built: PditSessionManager = PditSessionManager(parent=app, config=app.manager_config())
    return built


def test_an_option_set_on_the_app_reaches_the_class_that_uses_it():
    built = manager(
        Config(
            {
                "PditGatewayApp": {
                    "execution_timeout": 7.0,
                    "pipeline_depth": 0,
                    "max_queue": 3,
                    "kernel_pool_size": 0,
                    "kernel_pool_max_failures": 9,  # not a forwarded name: ignored here
                }
            }
        )
    )
    assert built.policy.execution_timeout == 7.0
    assert built.policy.pipeline_depth == 0
    assert built.max_queue == 3
    assert built.pool.kernel_pool_size == 0
    assert built.pool.kernel_pool_max_failures == 3


def test_the_class_s_own_name_wins_over_the_app_s():
    built = manager(
        Config(
            {
                "PditGatewayApp": {"interrupt_grace": 9.0, "max_queue": 3},
                "ExecutionPolicy": {"interrupt_grace": 1.5},
            }
        )
    )
    assert built.policy.interrupt_grace == 1.5
    assert built.max_queue == 3


async def test_command_line_options_under_either_name():
    server = ServerApp()
    server.parse_command_line(
        [
            "--PditGatewayApp.kernel_poll_interval=0.25",
            "--PditGatewayApp.max_output_bytes=1000",
            "--ExecutionPolicy.iopub_timeout=2",
            "--SessionKernel.kernel_probe_interval=0.5",
            "--PditSessionManager.running_save_interval=3",
        ]
    )
    built = manager(server.config)
    assert built.policy.max_output_bytes == 1000
    assert built.policy.iopub_timeout == 2.0
    assert built.running_save_interval == 3.0
    kernel = built.pool.new_kernel(None)
    assert kernel.kernel_poll_interval == 0.25
    assert kernel.kernel_probe_interval == 0.5


async def test_each_session_kernel_reads_the_configuration():
    built = manager(
        Config(
            {
                "PditGatewayApp": {"kernel_poll_interval": 0.25, "restart_dead_kernels": False},
                "SessionKernel": {"kernel_probe_interval": 0.5},
            }
        )
    )
    kernel = built.new_kernel("s", None, None)
    assert kernel.kernel_poll_interval == 0.25
    assert kernel.restart_dead_kernels is False
    assert kernel.kernel_probe_interval == 0.5
    assert kernel.kernel_ready_timeout == 60.0


@pytest.mark.parametrize("name", sorted(FORWARDED))
def test_the_forwarded_help_names_the_class(name):
    help_text = PditGatewayApp.class_traits()[name].help
    assert f"{FORWARDED[name].__name__}.{name}" in help_text
