"""Generated code only: the sync twins of the modules in ``kvstore/_async/``.

Each module here is written by ``scripts/unasync.py`` from its asyncio source (its first
line says which); edit the source, then run the script. What really differs between the
two APIs is written by hand in pairs outside this folder (``kvstore/_async/_concurrency.py``
and ``kvstore/_concurrency.py``).
"""
