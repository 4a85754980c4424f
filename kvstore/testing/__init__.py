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

An asyncio backend's test file is the same with ``AsyncConformanceSuite`` and an async
fixture (see its docstring).

Groups, each usable alone (``KVConformance``, ``RangeOptionsConformance``,
``TxnConformance``, ``WatchConformance``, ``HistoryConformance``, ``LeaseConformance``,
``MirrorConformance``, ``BadInputConformance``, ``StateMachineConformance``);
``ConformanceSuite`` combines them. Suite classes do not start with ``Test``, so pytest
collects only the backend's subclass. Tests skip by capability
(``requires(store, "watch")``), never by backend name.
Revisions are only compared relative to revisions the test read, so the suite runs
against a shared etcd.

The suite is written once: the asyncio groups (``AsyncKVConformance`` ...
``AsyncBadInputConformance``, ``AsyncConformanceSuite``) are the sources, in
``kvstore/testing/_async``, and the sync groups are generated from them by
``scripts/unasync.py``, so the two cannot drift apart. ``AsyncTaskConformance`` (task
cancellation, callbacks on the event loop) is asyncio only. The state machine is written
once in sync code (Hypothesis drives sync code): ``AsyncStateMachineConformance`` runs the
same machine in a worker thread, each of its store calls handed to the test's event loop.
``kvstore.testing.differential`` is sync only.
"""

from __future__ import annotations

import pytest

# plain asserts in the suite get pytest's detailed messages when registered before import
pytest.register_assert_rewrite(
    "kvstore.testing._sync._support",
    "kvstore.testing._sync.bad_input",
    "kvstore.testing._sync.history",
    "kvstore.testing._sync.kv",
    "kvstore.testing._sync.lease",
    "kvstore.testing._sync.mirror",
    "kvstore.testing.mirror_property",
    "kvstore.testing._sync.range_options",
    "kvstore.testing.state_machine",
    "kvstore.testing._sync.txn",
    "kvstore.testing._sync.watch",
    "kvstore.testing._async",
)

from kvstore.testing._async._support import AsyncConformanceBase  # noqa: E402
from kvstore.testing._async.bad_input import AsyncBadInputConformance  # noqa: E402
from kvstore.testing._async.history import AsyncHistoryConformance  # noqa: E402
from kvstore.testing._async.kv import AsyncKVConformance  # noqa: E402
from kvstore.testing._async.lease import AsyncLeaseConformance  # noqa: E402
from kvstore.testing._async.mirror import AsyncMirrorConformance  # noqa: E402
from kvstore.testing._async.mirror_property import AsyncMirrorPropertyConformance  # noqa: E402
from kvstore.testing._async.range_options import AsyncRangeOptionsConformance  # noqa: E402
from kvstore.testing._async.state_machine import AsyncStateMachineConformance  # noqa: E402
from kvstore.testing._async.tasks import AsyncTaskConformance  # noqa: E402
from kvstore.testing._async.txn import AsyncTxnConformance  # noqa: E402
from kvstore.testing._async.watch import AsyncWatchConformance  # noqa: E402
from kvstore.testing._sync._support import (  # noqa: E402
    ConformanceBase,
    StoreSnapshot,
    current_revision,
    read_events,
    requires,
    snapshot,
)
from kvstore.testing._sync.bad_input import BadInputConformance  # noqa: E402
from kvstore.testing._sync.history import HistoryConformance  # noqa: E402
from kvstore.testing._sync.kv import KVConformance  # noqa: E402
from kvstore.testing._sync.lease import LeaseConformance  # noqa: E402
from kvstore.testing._sync.mirror import MirrorConformance  # noqa: E402
from kvstore.testing._sync.range_options import RangeOptionsConformance  # noqa: E402
from kvstore.testing._sync.txn import TxnConformance  # noqa: E402
from kvstore.testing._sync.watch import WatchConformance  # noqa: E402
from kvstore.testing.mirror_property import MirrorPropertyConformance  # noqa: E402
from kvstore.testing.state_machine import (  # noqa: E402
    KVStoreMachine,
    ReferenceModel,
    StateMachineConformance,
)

__all__ = [
    "AsyncBadInputConformance",
    "AsyncConformanceBase",
    "AsyncConformanceSuite",
    "AsyncHistoryConformance",
    "AsyncKVConformance",
    "AsyncLeaseConformance",
    "AsyncMirrorConformance",
    "AsyncMirrorPropertyConformance",
    "AsyncRangeOptionsConformance",
    "AsyncStateMachineConformance",
    "AsyncTaskConformance",
    "AsyncTxnConformance",
    "AsyncWatchConformance",
    "BadInputConformance",
    "ConformanceBase",
    "ConformanceSuite",
    "HistoryConformance",
    "KVConformance",
    "KVStoreMachine",
    "LeaseConformance",
    "MirrorConformance",
    "MirrorPropertyConformance",
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
    MirrorConformance,
    MirrorPropertyConformance,
    BadInputConformance,
    StateMachineConformance,
):
    """Every conformance group; subclass it with a ``store`` fixture (see the module doc)."""


class AsyncConformanceSuite(  # type: ignore[misc]  # advance_clock: see AsyncStateMachineConformance
    AsyncKVConformance,
    AsyncRangeOptionsConformance,
    AsyncTxnConformance,
    AsyncWatchConformance,
    AsyncHistoryConformance,
    AsyncLeaseConformance,
    AsyncMirrorConformance,
    AsyncMirrorPropertyConformance,
    AsyncBadInputConformance,
    AsyncStateMachineConformance,
    AsyncTaskConformance,
):
    """Every asyncio conformance group; subclass it with an async ``store`` fixture.

    An asyncio backend's test file::

        import pytest_asyncio
        from kvstore.testing import AsyncConformanceSuite

        class TestMyAsyncStore(AsyncConformanceSuite):
            @pytest_asyncio.fixture
            async def store(self):
                store = MyAsyncStore(...)  # fresh and empty
                yield store
                await store.aclose()

            # optional: a controllable clock makes lease expiry instant
            fast_clock = True

            def advance_clock(self, store, seconds):  # or ``async def``
                store.clock.advance(seconds)

    The tests are coroutines marked ``pytest.mark.asyncio``, so they run in
    pytest-asyncio's strict mode as in its auto mode (``pytest_asyncio.fixture`` serves
    both). ``advance_clock`` may be a plain method or a coroutine; the default sleeps
    with ``asyncio.sleep``, so keep-alive tasks go on running meanwhile. The Hypothesis
    state machine has no asyncio twin: run ``ConformanceSuite`` on a sync store over the
    same data for it.
    """
