"""Interleaved micro-benchmark harness: ratios against a baseline measured in the same run.

The machines this runs on are noisy, so absolute times mean little. Each case is
timed in rounds that alternate between the baseline and the candidate; the
reported ratio is the median of the per-round ratios, which cancels most drift.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Budget:
    """How long each comparison runs: rounds of interleaved timing, seconds per batch."""

    rounds: int = 15
    target: float = 0.02


BUDGET = Budget()


def configure(rounds: int, target: float) -> None:
    """Set the budget of every later comparison (``--quick`` makes it tiny)."""
    BUDGET.rounds, BUDGET.target = rounds, target


@dataclass
class Result:
    name: str
    baseline: str
    seconds: float
    baseline_seconds: float
    ratio: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def row(self) -> str:
        return (
            f"| {self.name} | {self.seconds * 1e6:9.2f} µs | {self.baseline} "
            f"{self.baseline_seconds * 1e6:8.2f} µs | {self.ratio:6.3f}x |"
        )


def per_call(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def calibrate(fn: Callable[[], object], target: float | None = None) -> int:
    target = BUDGET.target if target is None else target
    number = 1
    while True:
        if per_call(fn, number) * number >= target:
            return number
        number *= 2


def compare(
    name: str,
    candidate: Callable[[], object],
    baseline_name: str,
    baseline: Callable[[], object],
    rounds: int | None = None,
    subtract: Callable[[], object] | None = None,
) -> Result:
    """Time ``candidate`` against ``baseline`` interleaved; optionally subtract a bare cost.

    With ``subtract`` (e.g. a bare app), the candidate's *overhead* over it is
    compared with the baseline, which is how middleware overhead is reported.
    """
    for fn in (candidate, baseline, subtract):
        if fn is not None:
            fn()  # warm caches and imports
    # Each is calibrated on its own: one count for both would run a 90 µs baseline
    # as often as a 0.5 µs candidate (minutes per row on a slow machine).
    number = calibrate(candidate)
    base_number = calibrate(baseline)
    bare_number = calibrate(subtract) if subtract is not None else 0
    ratios, cand_times, base_times = [], [], []
    for _ in range(BUDGET.rounds if rounds is None else rounds):
        cand = per_call(candidate, number)
        base = per_call(baseline, base_number)
        if subtract is not None:
            cand = max(cand - per_call(subtract, bare_number), 0.0)
        ratios.append(cand / base)
        cand_times.append(cand)
        base_times.append(base)
    return Result(
        name,
        baseline_name,
        statistics.median(cand_times),
        statistics.median(base_times),
        statistics.median(ratios),
    )
