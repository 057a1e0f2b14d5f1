#!/usr/bin/env bash
# Creates .venv-arrow/ at the repository root with the real pyarrow 11 (the last release that ships
# pyarrow.plasma and libplasma), numpy < 2 (pyarrow 11 is built against numpy 1) and pytest < 8
# (pyarrow 11's conftest uses a hook signature pytest 8+ rejects). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv-arrow"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check pyarrow==11.0.0 'numpy<2' 'pytest<8' hypothesis
"$venv/bin/python" -c 'import pyarrow, pyarrow.plasma; assert pyarrow.__version__ == "11.0.0", pyarrow.__version__' 2>/dev/null
echo "pyarrow 11.0.0 ready in $venv"
