"""Worker processes of the cross-process SQL tests: start one, read its next line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def spawn(worker: Path, *args: object) -> subprocess.Popen[str]:
    """Start ``python worker args...`` with pipes for its stdin, stdout and stderr."""
    return subprocess.Popen(
        [sys.executable, str(worker), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The worker's next line, stripped; fails with its stderr if it ended instead."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        _, err = process.communicate(timeout=timeout)
        raise AssertionError(f"the worker ended without a word: {err}")
    return line.strip()
