"""The wheel carries the built JupyterLab extension, so installing it needs no node."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_labextension_and_the_server_config(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("pdit_gateway-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = "pdit_gateway-{}.data/data/".format(wheel.name.split("-")[1])
    lab = data + "share/jupyter/labextensions/pdit-gateway/"
    assert lab + "package.json" in names
    assert lab + "install.json" in names
    assert any(n.startswith(lab + "static/remoteEntry.") for n in names)
    assert data + "etc/jupyter/jupyter_server_config.d/pdit_gateway.json" in names
    assert "pdit_gateway/kernel_setup.py" in names
