#!/usr/bin/env bash
# Installs swiftplasma with `pip install ./python` into a fresh-enough venv (.venv-python/ at the
# repository root, git-ignored) with current numpy, pyarrow, pandas and pytest, then runs its pytest
# suite against the real plasma-store. Run by `swift test` (PythonClientTests) and by hand:
#   python/run-tests.sh [pytest arguments]
# Environment: PLASMA_STORE_BIN (default: .build/debug or .build/release plasma-store), PYTHON (an
# interpreter >= 3.12; default: the first of python3.13, python3.12, pyenv's, python3 that is).
# Exits non-zero on any failure, or when the venv can't be made (never skips).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/python/setup-venv.sh" >"$root/.venv-python-setup.log" 2>&1 || {
    echo "python: could not set up .venv-python (log: .venv-python-setup.log):" >&2
    tail -20 "$root/.venv-python-setup.log" >&2
    exit 1
}
cd "$root/python"
exec "$root/.venv-python/bin/python" -m pytest -p no:cacheprovider "$@" tests
