"""Plugins: how backends are found and how a store's events reach observers.

- ``kvstore.plugins.discovery``: ``kvstore.open(url)``, ``kvstore.backends()``: backends
  are pluggy plugins in the ``kvstore`` entry-point group, one entry per URL scheme.
- ``kvstore.plugins.hookspecs``: the hooks a backend plugin implements (``hookimpl``).
- ``kvstore.plugins.events``: the store events (retries, endpoint switches, watch resumes,
  keep-alive and lock losses) reported to registered observers.

The package's ``__init__`` imports nothing: the core reports its events through
``kvstore.plugins.events`` without loading discovery, which loads the wrappers.
"""
