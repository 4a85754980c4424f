"""Every keep-alive of a store renewed by one background (``kvstore.lease.Renewals``), on
every in-memory store kind: one thread for hundreds of leases, none lost while renewed,
the thread gone with the last keep-alive, and a slow ``on_lost`` delaying nobody."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from recipe_helpers import keepalive_threads

from kvstore import BaseStore, LeaseExpiredError
from kvstore.testing._sync._support import wait_until
from kvstore_memory import ManualClock

LEASES = 500


def test_hundreds_of_keep_alives_share_one_thread_and_none_is_lost(
    any_store: BaseStore, clock: ManualClock
) -> None:
    threads = keepalive_threads()
    leases = [any_store.lease(3) for _ in range(LEASES)]
    keepalives = [any_store.keep_alive(lease) for lease in leases]
    assert keepalive_threads() == threads + 1
    for _ in range(3):
        # Two thirds of the TTL pass on the store's clock; the renewals (every TTL/3 of
        # real time) bring every lease back to its full TTL before the next step.
        clock.advance(2)
        before = time.monotonic()
        assert wait_until(
            lambda: all(lease.remaining_ttl() == 3 for lease in leases[:: LEASES // 10])
        )
        time.sleep(max(0.0, 1.2 - (time.monotonic() - before)))
    assert not any(keepalive.lost.is_set() for keepalive in keepalives)
    assert set(any_store.lease_leases()) >= {lease.id for lease in leases}
    for keepalive in keepalives:
        keepalive.stop()
    assert keepalive_threads() == threads  # the thread ends with the last keep-alive
    clock.advance(4)
    assert not set(any_store.lease_leases()) & {lease.id for lease in leases}


def test_a_slow_on_lost_callback_delays_no_other_renewal(
    any_store: BaseStore, clock: ManualClock
) -> None:
    release = threading.Event()
    reported: list[LeaseExpiredError] = []

    def slow(error: LeaseExpiredError) -> None:
        reported.append(error)
        release.wait(10)

    doomed = any_store.lease(3)
    kept = any_store.lease(3)
    doomed_keepalive = any_store.keep_alive(doomed, on_lost=slow)
    kept_keepalive = any_store.keep_alive(kept)
    try:
        any_store.lease_revoke(doomed.id)  # behind the keep-alive's back
        assert wait_until(lambda: bool(reported))
        # The callback blocks; the other lease is renewed meanwhile.
        for _ in range(2):
            clock.advance(2)
            assert wait_until(lambda: kept.remaining_ttl() == 3)
        assert doomed_keepalive.lost.is_set() and not kept_keepalive.lost.is_set()
        assert "was lost" in str(reported[0])
    finally:
        release.set()
        kept_keepalive.stop()
        doomed_keepalive.stop()


def test_revoking_kept_alive_leases_ends_them_without_a_warning(
    any_store: BaseStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kvstore")
    leases = [any_store.lease(3) for _ in range(100)]
    keepalives = [any_store.keep_alive(lease) for lease in leases]
    for index, lease in enumerate(leases):
        if index % 2:
            lease.revoke()
        else:
            any_store.revoke_lease(lease)
    assert wait_until(lambda: not any(keepalive.running for keepalive in keepalives))
    time.sleep(1.2)  # past TTL/3: a renewal would have met every revoked lease by now
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    # Each still reports that its lease is gone (lost, on_lost), only not as a warning.
    assert all(keepalive.lost.is_set() for keepalive in keepalives)
    assert any("its owner revoked it" in record.getMessage() for record in caplog.records)


def test_a_lease_revoked_behind_its_keep_alive_still_warns_once(
    any_store: BaseStore, caplog: pytest.LogCaptureFixture
) -> None:
    lease = any_store.lease(3)
    keepalive = any_store.keep_alive(lease)
    any_store.lease_revoke(lease.id)  # the primitive, as another client would
    assert wait_until(keepalive.lost.is_set)
    time.sleep(1.2)
    lost = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and "was lost" in record.getMessage()
    ]
    assert len(lost) == 1
