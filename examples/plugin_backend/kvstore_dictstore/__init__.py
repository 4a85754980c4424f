"""An example third-party kvstore backend: ``DictStore``, served as ``dictstore://``.

``kvstore_dictstore.store`` is the backend: a dict and a revision log implementing the
primitives itself (its docstring says how to write a backend). ``kvstore_dictstore.plugin``
is the pluggy hook that ``kvstore.open`` finds through the entry point in
``pyproject.toml``.
"""

from __future__ import annotations

from kvstore_dictstore.store import DictStore

__all__ = ["DictStore"]
