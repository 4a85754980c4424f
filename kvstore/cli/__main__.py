"""``python -m kvstore.cli ARGS``: the same as ``kvstore ARGS``."""

from __future__ import annotations

import sys

from kvstore.cli import main

sys.exit(main())
