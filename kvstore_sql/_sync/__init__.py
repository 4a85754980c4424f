"""Generated code only: the sync twins of the modules in ``kvstore_sql/_async/``, written by
``scripts/unasync.py`` (each module's first line names its source); do not edit them."""
