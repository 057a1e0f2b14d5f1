"""Helpers for tests that run code in separate processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str, *args: str, timeout: float = 120) -> str:
    """Runs ``code`` in a fresh interpreter (this venv) and returns its stdout; fails on a non-zero exit."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def start_python(code: str, *args: str) -> subprocess.Popen[str]:
    """Starts ``code`` in a fresh interpreter, stdin and stdout piped."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
