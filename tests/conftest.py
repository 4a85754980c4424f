"""Store fixtures on MemoryStore with a ManualClock, shared by the tests under ``tests/``.

Test modules that need another ``store`` define their own fixture of that name, which
takes precedence over these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from async_recipe_helpers import make_async_store
from recipe_helpers import STORE_KINDS, make_store

from kvstore import AsyncBaseStore, BaseStore
from kvstore_memory import ManualClock

collect_ignore = ["bare_install"]
"""A project for a virtualenv without the [etcd] extra; CI runs it there (``.ci/run``)."""


@pytest.fixture
def clock() -> ManualClock:
    """The clock of the test's MemoryStore: ``clock.advance(s)`` expires leases, no sleep."""
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Iterator[BaseStore]:
    """A fresh MemoryStore on ``clock``, closed after the test."""
    with make_store("memory", clock) as made:
        yield made


@pytest.fixture(params=STORE_KINDS)
def any_store(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[BaseStore]:
    """Each of MemoryStore, NamespacedStore and EncryptedStore over it, on ``clock``."""
    with make_store(request.param, clock) as made:
        yield made


@pytest.fixture(params=STORE_KINDS)
async def any_async_store(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[AsyncBaseStore]:
    """Each of AsyncMemoryStore, AsyncNamespacedStore and AsyncEncryptedStore over it."""
    async with make_async_store(request.param, clock) as made:
        yield made
