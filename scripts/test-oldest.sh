#!/usr/bin/env bash
# Run the Python suite (not the browser tests) on the oldest versions pyproject.toml allows:
# a fresh venv, the package and its test dependencies installed under ci/constraints-oldest.txt.
# The JupyterLab extension is not rebuilt when pdit_gateway/labextension is already built
# (skip-if-exists in pyproject.toml); otherwise the install builds it, which needs jlpm.
# Arguments go to pytest. OLDEST_VENV names the venv's folder (default build/oldest-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
venv="${OLDEST_VENV:-build/oldest-venv}"

rm -rf "$venv"
python -m venv "$venv"
"$venv/bin/python" -m pip install -q -c ci/constraints-oldest.txt '.[test]'
"$venv/bin/python" -m pip list --format=freeze | grep -i -E \
    '^(jupyter[_-]server|jupyter[_-]client|ipykernel|tornado|traitlets|watchfiles|nbformat|jupytext|pytest|pytest[_-]jupyter|nbclient)=='

# the checkout's code (python -m puts the working directory first), the venv's dependencies
"$venv/bin/python" -m pytest -p no:cacheprovider --ignore=tests/browser "$@"
