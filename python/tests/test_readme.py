"""The README's "From Python" blocks are the files in python/examples, and they run against a real store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, Store


def readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def run_example(name: str, store: Store) -> str:
    environment = dict(os.environ, PLASMA_STORE_SOCKET=store.path)
    done = subprocess.run([sys.executable, str(ROOT / "python" / "examples" / name)], env=environment,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readme_shows_the_examples_verbatim() -> None:
    blocks = readme_python_blocks()
    files = [(ROOT / "python" / "examples" / name).read_text() for name in ("blocking.py", "await_producers.py")]
    assert blocks == files


def test_the_blocking_example_runs(store: Store) -> None:
    assert run_example("blocking.py", store).startswith("b'f32' ")


def test_the_as_future_example_awaits_four_producers_in_about_a_second(store: Store) -> None:
    output = run_example("await_producers.py", store)
    assert "[b'result of task-0', b'result of task-1', b'result of task-2', b'result of task-3']" in output
    seconds = float(re.search(r"after ([0-9.]+) s", output).group(1))  # type: ignore[union-attr]
    assert 0.9 <= seconds < 10, output
