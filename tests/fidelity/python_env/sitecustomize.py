"""Run by ``python script.py`` in the fidelity suite: draw with the recording backend."""

import os

os.environ.setdefault("MPLBACKEND", "module://fidelity_backend")
