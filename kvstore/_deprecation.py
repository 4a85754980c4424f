"""Warnings for deprecated import paths (modules that moved)."""

from __future__ import annotations

import warnings

__all__ = ["warn_moved_module"]


def warn_moved_module(old: str, new: str, names: str) -> None:
    """Warn (``DeprecationWarning``) that module ``old`` moved, naming where ``names`` are now.

    Called at the top level of the alias module ``old``. The warning is attributed to the
    code that imported it (``warnings`` skips the import machinery's frames), so Python's
    default filters show it for an import in ``__main__`` and pytest shows it in a test.
    """
    # stacklevel 1: this function, 2: the alias module, 3: the import statement
    warnings.warn(
        f"{old} is deprecated: import {names} from {new}", DeprecationWarning, stacklevel=3
    )
