"""``AsyncStateMachineConformance``: the Hypothesis state machine on an asyncio store.

Hypothesis runs state machines synchronously, so the machine of ``StateMachineConformance``
(the same rules, the same reference model) runs in a worker thread, and every call it
makes on the store is handed to the test's event loop, where the asyncio store lives, and
waited for. The machine sees a sync view of the store; the store sees coroutines of its
own loop, as in an application.
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from hypothesis.stateful import run_state_machine_as_test

from kvstore._async.base import AsyncBaseStore
from kvstore._async.lease import AsyncKeepAlive, AsyncLease
from kvstore._async.mirror import AsyncMirror, AsyncMirrorChanges
from kvstore._async.watch import AsyncWatch
from kvstore.testing._async._support import AsyncConformanceBase
from kvstore.testing.state_machine import StateMachineConformance

__all__ = ["AsyncStateMachineConformance"]


class _Portal:
    """Runs calls on an event loop from another thread, waiting for their results."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` on the loop, awaited there if it returns an
        awaitable; its result here (or its exception, raised here)."""

        async def run() -> Any:
            result = function(*args, **kwargs)
            if inspect.isawaitable(result):
                return await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()


_VIEWED = (AsyncBaseStore, AsyncWatch, AsyncLease, AsyncKeepAlive, AsyncMirror, AsyncMirrorChanges)
"""The asyncio objects the machine (and the mirror property) get a sync view of."""


class _SyncView:
    """An asyncio object (the store, a watch, a lease) as the sync machine uses it: each
    method call runs on the object's loop and is waited for.

    Attributes that are not methods (``capabilities``, ``cancelled``, ``id`` ...) are read
    as they are. Results that are asyncio objects are viewed too, and views passed back as
    arguments are unwrapped.
    """

    def __init__(self, target: Any, portal: _Portal) -> None:
        self.target = target
        self._portal = portal

    def __enter__(self) -> _SyncView:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # what leaving the object's ``async with`` block does (cancel, revoke, close)
        self._portal.call(self.target._end_context)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(_unwrap(arg) for arg in args)
            kwargs = {key: _unwrap(value) for key, value in kwargs.items()}
            result = self._portal.call(attribute, *args, **kwargs)
            return _SyncView(result, self._portal) if isinstance(result, _VIEWED) else result

        return call


def _unwrap(value: Any) -> Any:
    return value.target if isinstance(value, _SyncView) else value


class _SuiteView:
    """The suite as the machine uses it: its settings as they are, ``advance_clock`` run
    on the loop with the asyncio store (it may be a coroutine function)."""

    def __init__(self, suite: AsyncStateMachineConformance, portal: _Portal) -> None:
        self._suite = suite
        self._portal = portal

    def __getattr__(self, name: str) -> Any:
        return getattr(self._suite, name)

    def advance_clock(self, store: _SyncView, seconds: float) -> None:
        self._portal.call(self._suite.advance_clock, store.target, seconds)


# The asyncio base comes first: its advance_clock (a coroutine, or a plain method in a
# subclass) is the one the suite calls; mypy sees two signatures of one name.
class AsyncStateMachineConformance(AsyncConformanceBase, StateMachineConformance):  # type: ignore[misc]
    """``StateMachineConformance`` on an asyncio store (same attributes, same rules).

    The machine runs in a worker thread; the test's event loop runs the store meanwhile.
    """

    async def test_state_machine(self, store: AsyncBaseStore) -> None:  # type: ignore[override]
        portal = _Portal(asyncio.get_running_loop())
        machine = type(
            "KVStoreMachine",
            (self.machine_class,),
            {"suite": _SuiteView(self, portal), "shared_store": _SyncView(store, portal)},
        )
        await asyncio.to_thread(
            run_state_machine_as_test,
            machine,
            settings=self.state_machine_settings(),
        )
