#!/usr/bin/env bash
# Set up a fresh machine (Python 3.11, pip, node/npm, apt as root) and run every test:
# the Python suite with real kernels and servers, the TypeScript client's unit and integration
# tests, the browser tests in Debian's Chromium, and the Python suite again on the oldest
# versions pyproject.toml allows (scripts/test-oldest.sh, in a venv under build/).
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -q && apt-get install -y -q chromium
    else
        sudo apt-get update -q && sudo apt-get install -y -q chromium
    fi
fi

# `jupyter labextension develop` leaves a symlink where the install puts the extension's files;
# once its target is gone (another checkout, a removed work tree), pip cannot write through it.
labext="$(python -c 'import sys; print(sys.prefix)')/share/jupyter/labextensions/pdit-gateway"
if [ -L "$labext" ]; then
    rm -f "$labext"
fi

# the package, its test dependencies, and the JupyterLab extension (built by the install)
pip install -q -e '.[test]'
# jlpm (JupyterLab's yarn) for the TypeScript tests
pip install -q 'jupyterlab>=4.6,<5'

(cd labextension && jlpm install && jlpm typecheck && jlpm lint:check && jlpm test && jlpm test:integration)

# Playwright keeps its own event loop for the whole session, which pytest-jupyter's loop
# fixtures cannot share: the browser tests run in a pytest process of their own.
python -m pytest -p no:cacheprovider --ignore=tests/browser "$@"
PDIT_BROWSER_TESTS=1 python -m pytest -p no:cacheprovider tests/browser "$@"

# the Python suite again, in a venv of the oldest versions pyproject.toml allows (the install
# above has built the JupyterLab extension, which that venv's install then reuses)
bash scripts/test-oldest.sh "$@"
