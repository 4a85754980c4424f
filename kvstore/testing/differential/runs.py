"""Runs: ``run_differential`` and ``compare_many``, and the ``Divergence`` they report
(formatted with ``brief``).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable
from typing import Any, cast

import attrs

from kvstore.base import BaseStore
from kvstore.keys import ALL_KEYS
from kvstore.testing.differential.actions import Action, ListLeases, Send
from kvstore.testing.differential.coverage import Coverage
from kvstore.testing.differential.generation import Model, StepGenerator
from kvstore.testing.differential.normalized import Outcome
from kvstore.testing.differential.side import Side
from kvstore.txn import Compare, Get

__all__ = ["DEFAULT_PREFIX", "Divergence", "brief", "compare_many", "run_differential"]

DEFAULT_PREFIX = "kvstore-differential/"
"""Where a run keeps its keys unless told otherwise (``compare_many`` adds the seed)."""


@attrs.frozen
class Divergence:
    """The first step at which two stores answered differently.

    Attributes:
        seed: The seed of the sequence.
        step: The index of the diverging step (0-based).
        action: The step (normalized: see ``kvstore.testing.differential``).
        result_a: Store A's answer (an ``Outcome``: the result and the revision after).
        result_b: Store B's answer.
        names: What the two stores are (their reprs, unless named).
        history: Every step before the diverging one.
        options: The run's options besides the seed and the steps (for ``replay``).
    """

    seed: int
    step: int
    action: Action
    result_a: Outcome
    result_b: Outcome
    names: tuple[str, str]
    history: tuple[Action, ...] = attrs.field(repr=False)
    options: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def replay(self) -> str:
        """The call that replays the sequence up to the diverging step."""
        extra = "".join(f", {name}={value!r}" for name, value in sorted(self.options.items()))
        return f"run_differential(store_a, store_b, seed={self.seed}, steps={self.step + 1}{extra})"

    def __str__(self) -> str:
        lines = [
            f"stores diverge at step {self.step} of seed {self.seed}",
            f"  replay: {self.replay}",
            f"  step {self.step}: {brief(self.action)}",
            f"  A {self.names[0]}:",
            f"      {brief(self.result_a.result)}",
            f"      revision after: {brief(self.result_a.revision)}",
            f"  B {self.names[1]}:",
            f"      {brief(self.result_b.result)}",
            f"      revision after: {brief(self.result_b.revision)}",
        ]
        lines.extend(_differences(self.result_a, self.result_b))
        shown = self.history[-12:]
        if shown:
            lines.append(f"  the {len(shown)} steps before (of {len(self.history)}):")
            first = len(self.history) - len(shown)
            lines.extend(f"    {first + i}: {brief(action)}" for i, action in enumerate(shown))
        lines.append(
            "  (revisions relative to the run's start, which is 1; leases by grant position; "
            "keys without the run prefix)"
        )
        return "\n".join(lines)


def brief(value: object) -> str:
    """``repr`` without the defaults: requests, results and steps in a line a person reads.

    An attrs instance shows its first field and the fields without a default
    positionally, the others only where they differ from their default
    (``Get('a', limit=2)``); a ``Compare`` reads as
    ``version('a') > 1``; an enum member as ``SortTarget.VERSION``.
    """
    if isinstance(value, Compare):
        range_part = "" if value.range_end is None else f", {value.range_end!r}"
        return f"{value.target.value}({value.key!r}{range_part}) {value.op.value} {value.operand!r}"
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, tuple):
        inner = ", ".join(brief(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(brief(item) for item in value) + "]"
    if attrs.has(type(value)):
        parts: list[str] = []
        positional = True
        for field in attrs.fields(cast(Any, type(value))):
            if not field.repr:
                continue
            item = getattr(value, field.name)
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory()
            positional = positional and default is attrs.NOTHING
            if positional or not parts:
                parts.append(brief(item))
            elif default is attrs.NOTHING or item != default:
                parts.append(f"{field.name}={brief(item)}")
        return f"{type(value).__name__}({', '.join(parts)})"
    return repr(value)


def _differences(a: object, b: object, path: str = "") -> list[str]:
    """Where two normalized answers differ (the first few paths)."""
    if a == b:
        return []
    if attrs.has(type(a)) and type(a) is type(b):
        found: list[str] = []
        for field in attrs.fields(cast(Any, type(a))):
            if field.eq:
                found += _differences(
                    getattr(a, field.name), getattr(b, field.name), f"{path}.{field.name}"
                )
        return found[:5] or [f"  differs at {path or 'the top'}"]
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        found = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found += _differences(x, y, f"{path}[{i}]")
        return found[:5]
    return [f"  differs at {path or 'the top'}: {brief(a)} != {brief(b)}"]


def run_differential(
    store_a: BaseStore,
    store_b: BaseStore,
    *,
    seed: int,
    steps: int = 200,
    prefix: str = DEFAULT_PREFIX,
    compact: bool = True,
    watch: bool = True,
    leases: bool = True,
    cleanup: bool = True,
    names: tuple[str, str] | None = None,
    coverage: Coverage | None = None,
) -> Divergence | None:
    """Run ``seed``'s random sequence of ``steps`` primitive calls on both stores.

    Args:
        store_a: One store (usually the reference, such as an ``EtcdStore``).
        store_b: The other; both need the ``txn`` capability, and ``leases``, ``watch``
            and ``history`` unless those steps are turned off.
        seed: Seeds ``random.Random``; the same seed and answers give the same sequence.
        steps: How many random steps (a final read of every key and of the leases
            follows).
        prefix: Where the run's keys live (nothing else under it should change).
        compact: Include compactions (store-wide: leave out on a shared etcd).
        watch: Include watch replays.
        leases: Include lease calls and puts with leases.
        cleanup: Revoke the run's leases and delete its keys at the end.
        names: How to call the stores in the report (default: their reprs).
        coverage: Counts the features the agreed steps exercised.

    Returns:
        The first divergence, or ``None`` if the stores agreed on every step.
    """
    return _run(
        store_a,
        store_b,
        seed=seed,
        steps=steps,
        prefix=prefix,
        compact=compact,
        watch=watch,
        leases=leases,
        cleanup=cleanup,
        names=names,
        coverage=coverage,
    )


def _run(
    store_a: BaseStore,
    store_b: BaseStore,
    *,
    seed: int,
    steps: int,
    prefix: str = DEFAULT_PREFIX,
    compact: bool,
    watch: bool,
    leases: bool,
    cleanup: bool = True,
    names: tuple[str, str] | None = None,
    coverage: Coverage | None = None,
) -> Divergence | None:
    same = store_a is store_b
    side_a = Side(store_a, prefix)
    side_b = side_a if same else Side(store_b, prefix)
    model = Model()
    generator = StepGenerator(
        random.Random(seed), model, compact=compact, watch=watch, leases=leases
    )
    history: list[Action] = []
    options: dict[str, Any] = {
        name: value
        for name, value, default in (
            ("prefix", prefix, DEFAULT_PREFIX),
            ("compact", compact, True),
            ("watch", watch, True),
            ("leases", leases, True),
        )
        if value != default
    }
    finals: list[Action] = (
        [Send(Get("", ALL_KEYS)), ListLeases()] if leases else [Send(Get("", ALL_KEYS))]
    )
    try:
        for index in range(steps + len(finals)):
            action = generator.step() if index < steps else finals[index - steps]
            outcome_a = Outcome(action.run(side_a), side_a.current_revision())
            outcome_b = (
                outcome_a if same else Outcome(action.run(side_b), side_b.current_revision())
            )
            if outcome_a != outcome_b:
                return Divergence(
                    seed,
                    index,
                    action,
                    outcome_a,
                    outcome_b,
                    names or (repr(store_a), repr(store_b)),
                    tuple(history),
                    options,
                )
            history.append(action)
            model.learn(action, outcome_a)
            if coverage is not None:
                coverage.add(action, outcome_a)
        return None
    finally:
        if cleanup:
            side_a.cleanup()
            if not same:
                side_b.cleanup()


def compare_many(
    make_a: Callable[[], BaseStore],
    make_b: Callable[[], BaseStore],
    *,
    seeds: Iterable[int],
    steps: int = 200,
    prefix: str = DEFAULT_PREFIX,
    close: bool = True,
    coverage: Coverage | None = None,
    **options: bool,
) -> list[Divergence]:
    """``run_differential`` for each seed, on a fresh pair of stores from the factories.

    Each seed's keys live under ``f"{prefix}{seed}/"``.

    Args:
        make_a: Makes store A (called once per seed).
        make_b: Makes store B.
        seeds: The seeds to run.
        steps: Steps per seed.
        prefix: The prefix under which each seed gets its own.
        close: Close the stores after each seed.
        coverage: Counts the features the agreed steps exercised, over every seed.
        options: ``compact``, ``watch``, ``leases`` as for ``run_differential``.

    Returns:
        The divergences found, one per diverging seed (empty when all agreed).
    """
    checked = _options(options)
    found: list[Divergence] = []
    for seed in seeds:
        store_a = make_a()
        try:
            store_b = make_b()
            try:
                divergence = run_differential(
                    store_a,
                    store_b,
                    seed=seed,
                    steps=steps,
                    prefix=f"{prefix}{seed}/",
                    compact=checked["compact"],
                    watch=checked["watch"],
                    leases=checked["leases"],
                    coverage=coverage,
                )
            finally:
                if close:
                    store_b.close()
        finally:
            if close:
                store_a.close()
        if divergence is not None:
            found.append(divergence)
    return found


def _options(options: dict[str, bool]) -> dict[str, bool]:
    allowed = {"compact", "watch", "leases"}
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(f"unknown options: {', '.join(sorted(unknown))}")
    return {"compact": True, "watch": True, "leases": True, **options}
