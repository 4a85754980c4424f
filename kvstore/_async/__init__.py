"""The asyncio API's modules: the source of truth of the sync modules generated from them.

Every module here except those marked ``# unasync: no-twin`` has a sync twin one folder
up, written by ``scripts/unasync.py`` (see its docstring); edit the module here, then run
the script. ``python scripts/unasync.py --check`` (run by CI and by
``tests/test_unasync.py``) fails when a twin is out of date.
"""
