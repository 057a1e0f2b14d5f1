#!/usr/bin/env bash
# Creates .venv-python/ at the repository root (idempotent): a Python >= 3.12 venv with
# `pip install ./python[test]` (current numpy 2, pyarrow, pandas, pytest) and mypy. The package itself
# is reinstalled every time (not editable), so the tests exercise what `pip install ./python` installs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-python"
new_enough() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
if [ ! -x "$venv/bin/python" ] || ! new_enough "$venv/bin/python"; then
    python=""
    candidates=("${PYTHON:-}" python3.13 python3.12)
    if command -v pyenv >/dev/null; then
        for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])' | sort -rV); do
            candidates+=("$(pyenv root)/versions/$v/bin/python3")
        done
    fi
    for found in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do
        [ -x "$found" ] && candidates+=("$found")
    done
    candidates+=(python3)
    for candidate in "${candidates[@]}"; do
        if [ -n "$candidate" ] && new_enough "$candidate"; then python="$candidate"; break; fi
    done
    if [ -z "$python" ]; then
        echo "no Python >= 3.12 found (set PYTHON=/path/to/python3.12+)" >&2
        exit 1
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/pip" install --quiet --disable-pip-version-check)
if ! "$venv/bin/python" -c 'import numpy, pyarrow, pandas, pytest, mypy' 2>/dev/null; then
    "${pip[@]}" "$root/python[test,typecheck]"
fi
"${pip[@]}" --no-deps --force-reinstall "$root/python"
"$venv/bin/python" -c 'import numpy, pyarrow, swiftplasma; print("swiftplasma", swiftplasma.__version__, "numpy", numpy.__version__, "pyarrow", pyarrow.__version__)'
