"""The conformance suite: one class and one fixture prove a backend behaves like etcd.

A backend's test file::

    import pytest
    from kvstore.testing import ConformanceSuite

    class TestMyStore(ConformanceSuite):
        @pytest.fixture
        def store(self):
            store = MyStore(...)       # fresh and empty
            yield store
            store.close()

        # optional: a controllable clock makes lease expiry instant
        fast_clock = True

        def advance_clock(self, store, seconds):
            store.clock.advance(seconds)

Groups, each usable alone (``KVConformance``, ``RangeOptionsConformance``,
``TxnConformance``, ``WatchConformance``, ``HistoryConformance``, ``LeaseConformance``,
``BadInputConformance``, ``StateMachineConformance``); ``ConformanceSuite`` combines
them. Suite classes do not start with ``Test``, so pytest collects only the backend's
subclass. Tests skip by capability (``requires(store, "watch")``), never by backend name.
Revisions are only compared relative to revisions the test read, so the suite runs
against a shared etcd.
"""

from __future__ import annotations

import pytest

# plain asserts in the suite get pytest's detailed messages when registered before import
pytest.register_assert_rewrite(
    "kvstore.testing._support",
    "kvstore.testing.bad_input",
    "kvstore.testing.history",
    "kvstore.testing.kv",
    "kvstore.testing.lease",
    "kvstore.testing.range_options",
    "kvstore.testing.state_machine",
    "kvstore.testing.txn",
    "kvstore.testing.watch",
)

from kvstore.testing._support import (  # noqa: E402
    ConformanceBase,
    StoreSnapshot,
    current_revision,
    read_events,
    requires,
    snapshot,
)
from kvstore.testing.bad_input import BadInputConformance  # noqa: E402
from kvstore.testing.history import HistoryConformance  # noqa: E402
from kvstore.testing.kv import KVConformance  # noqa: E402
from kvstore.testing.lease import LeaseConformance  # noqa: E402
from kvstore.testing.range_options import RangeOptionsConformance  # noqa: E402
from kvstore.testing.state_machine import (  # noqa: E402
    KVStoreMachine,
    ReferenceModel,
    StateMachineConformance,
)
from kvstore.testing.txn import TxnConformance  # noqa: E402
from kvstore.testing.watch import WatchConformance  # noqa: E402

__all__ = [
    "BadInputConformance",
    "ConformanceBase",
    "ConformanceSuite",
    "HistoryConformance",
    "KVConformance",
    "KVStoreMachine",
    "LeaseConformance",
    "RangeOptionsConformance",
    "ReferenceModel",
    "StateMachineConformance",
    "StoreSnapshot",
    "TxnConformance",
    "WatchConformance",
    "current_revision",
    "read_events",
    "requires",
    "snapshot",
]


class ConformanceSuite(
    KVConformance,
    RangeOptionsConformance,
    TxnConformance,
    WatchConformance,
    HistoryConformance,
    LeaseConformance,
    BadInputConformance,
    StateMachineConformance,
):
    """Every conformance group; subclass it with a ``store`` fixture (see the module doc)."""
