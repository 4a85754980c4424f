"""The asyncio sources of the modules generated into ``_sync/`` beside this folder
(``scripts/unasync.py``): edit these, then run the script."""
