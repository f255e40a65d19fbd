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
started=$SECONDS

rm -rf "$venv"
python -m venv "$venv"
"$venv/bin/python" -m pip install -q -c ci/constraints-oldest.txt '.[test]'
"$venv/bin/python" -m pip list --format=freeze | grep -i -E \
    '^(jupyter[_-]server|jupyter[_-]client|ipykernel|ipython|tornado|traitlets|pyzmq|watchfiles|nbformat|jupytext|pytest|pytest[_-]jupyter|nbclient|matplotlib|pandas|numpy)=='

# the checkout's code (python -m puts the working directory first), the venv's dependencies
status=0
"$venv/bin/python" -m pytest -p no:cacheprovider --ignore=tests/browser "$@" || status=$?
echo "oldest versions: venv, install and suite took $((SECONDS - started)) s"
exit "$status"
