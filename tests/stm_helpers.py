"""Helpers for the tests of ``store.stm`` (imported as a plain module, as ``recipe_helpers``).

A bank of accounts moved between by concurrent transfers, and two schedules forced with
a barrier inside ``apply``: the lost update and the write skew that ``"read_committed"``
lets through and the other isolation levels stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Awaitable, Callable

from recipe_helpers import WAIT, Worker

from kvstore import STM, AsyncBaseStore, AsyncSTM, BaseStore

SAFE_LEVELS = ("serializable_snapshot", "serializable", "repeatable_reads")
"""The levels whose commits compare the read set: transfers neither create nor lose money."""

ACCOUNTS = [f"bank/{n}" for n in range(5)]
START = 100


class Insufficient(Exception):
    """Raised by a transfer that would overdraw (so nothing is written)."""


def open_accounts(store: BaseStore) -> None:
    store.bulk_put({account: str(START).encode() for account in ACCOUNTS})


def balances(store: BaseStore) -> list[int]:
    return [int(store.get(account)) for account in ACCOUNTS]


def transfer(source: str, target: str, amount: int) -> Callable[[STM], int]:
    def apply(stm: STM) -> int:
        have = int(stm.get(source) or b"0")
        time.sleep(0)  # let other transfers run between the reads and the commit
        if have < amount:
            raise Insufficient(source)
        stm.put(source, str(have - amount).encode())
        stm.put(target, str(int(stm.get(target) or b"0") + amount).encode())
        return amount

    return apply


def async_transfer(source: str, target: str, amount: int) -> Callable[[AsyncSTM], Awaitable[int]]:
    async def apply(stm: AsyncSTM) -> int:
        have = int(await stm.get(source) or b"0")
        await asyncio.sleep(0)  # the other tasks run here
        if have < amount:
            raise Insufficient(source)
        stm.put(source, str(have - amount).encode())
        stm.put(target, str(int(await stm.get(target) or b"0") + amount).encode())
        return amount

    return apply


def run_bank_threads(store: BaseStore, isolation: str, threads: int, rounds: int) -> list[int]:
    """Random transfers from ``threads`` threads; the attempts each transfer took."""
    attempts: list[int] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(rounds):
            source, target = rng.sample(ACCOUNTS, 2)
            runner = STM(store, isolation)  # type: ignore[arg-type]
            with contextlib.suppress(Insufficient):
                runner.run(transfer(source, target, rng.randint(1, 80)))
            attempts.append(runner.attempts)
            assert min(balances(store)) >= 0

    workers = [Worker(lambda seed=seed: work(seed)) for seed in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.result()
    return attempts


async def run_bank_tasks(
    store: AsyncBaseStore, isolation: str, tasks: int, rounds: int
) -> list[int]:
    """Random transfers from ``tasks`` tasks; the attempts each transfer took."""
    attempts: list[int] = []

    async def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(rounds):
            source, target = rng.sample(ACCOUNTS, 2)
            runner = AsyncSTM(store, isolation)  # type: ignore[arg-type]
            with contextlib.suppress(Insufficient):
                await runner.run(async_transfer(source, target, rng.randint(1, 80)))
            attempts.append(runner.attempts)

    await asyncio.gather(*(work(seed) for seed in range(tasks)))
    return attempts


def _run_pair(
    store: BaseStore, isolation: str, applies: list[Callable[[STM], object]]
) -> list[object]:
    def one(apply: Callable[[STM], object]) -> object:
        try:
            return STM(store, isolation).run(apply)  # type: ignore[arg-type]
        except Insufficient as exc:
            return exc

    workers = [Worker(lambda apply=apply: one(apply)) for apply in applies]
    for worker in workers:
        worker.start()
    return [worker.result() for worker in workers]


def run_two_withdrawals(store: BaseStore, isolation: str) -> list[object]:
    """Two transactions read ``bank/0`` (100) and ``bank/out`` together, then each
    withdraws 60 from the first and books it in the second.

    Returns:
        Per transaction: the attempt it committed on, or the ``Insufficient`` it raised.
    """
    barrier = threading.Barrier(2, timeout=WAIT)

    def withdraw(stm: STM) -> int:
        have = int(stm.get("bank/0") or b"0")
        paid = int(stm.get("bank/out") or b"0")
        if stm.attempts == 1:
            barrier.wait()  # both have read before either commits
        if have < 60:
            raise Insufficient("bank/0")
        stm.put("bank/0", str(have - 60).encode())
        stm.put("bank/out", str(paid + 60).encode())
        return stm.attempts

    return _run_pair(store, isolation, [withdraw, withdraw])


def write_skew(store: BaseStore, isolation: str) -> list[object]:
    """Two withdrawals of 80 checked against the sum of ``a`` and ``b``, each writing one.

    Returns:
        Per transaction: the account it wrote, or the ``Insufficient`` it raised.
    """
    barrier = threading.Barrier(2, timeout=WAIT)

    def withdraw(account: str) -> Callable[[STM], str]:
        def apply(stm: STM) -> str:
            total = int(stm.get("a") or b"0") + int(stm.get("b") or b"0")
            if stm.attempts == 1:
                barrier.wait()
            if total < 80:
                raise Insufficient("total")
            stm.put(account, str(int(stm.get(account) or b"0") - 80).encode())
            return account

        return apply

    return _run_pair(store, isolation, [withdraw("a"), withdraw("b")])
