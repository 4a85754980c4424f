"""The asyncio SQL stores' modules: the source of truth of the sync modules generated from
them (``scripts/unasync.py``), and the asyncio-only ones marked ``# unasync: no-twin``.
"""
