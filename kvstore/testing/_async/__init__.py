"""The conformance suite's asyncio sources: the sync suite one folder up is generated.

Every module here except those marked ``# unasync: no-twin`` has a sync twin in
``kvstore/testing``, written by ``scripts/unasync.py``; edit the module here, then run the
script. ``AsyncConformanceSuite`` (exported by ``kvstore.testing``) combines the groups.
"""
