"""Make ``jobqueue`` importable for the example's tests, from any working directory."""

from __future__ import annotations

import sys
from pathlib import Path

APP_DIR = str(Path(__file__).resolve().parents[1])
if APP_DIR not in sys.path:
    sys.path.insert(0, APP_DIR)
