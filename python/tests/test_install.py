"""`pip install ./python` in a fresh venv: the package installs with no dependencies (numpy and pyarrow
are optional extras) and works against the store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, Store


def test_pip_install_in_a_fresh_venv_needs_no_dependencies(store: Store, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                              str(ROOT / "python")], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    check = subprocess.run([str(venv / "bin" / "python"), "-c", """
import importlib.util, sys, swiftplasma as sp
assert importlib.util.find_spec("numpy") is None and importlib.util.find_spec("pyarrow") is None
assert sp.__file__.startswith(sys.prefix), sp.__file__
with sp.connect(sys.argv[1]) as client:
    oid = sp.ObjectID.from_name("fresh venv")
    client.put(oid, b"installed")
    with client.get(oid) as buffer:
        print(bytes(buffer).decode())
""", store.path], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "installed"
