"""Run the same action in several threads at once, for race tests on committed data."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def race(fn: Callable[[int], Any], n: int = 2, what: str = "an action") -> list:
    """Run ``fn(i)`` for i in 0..n-1 in ``n`` threads at once; each result is the return value or the exception
    raised. Fails when a thread is still running after 60 s."""
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            results[i] = fn(i)
        except Exception as exc:  # the caller compares outcomes
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), f"{what} hung"
    return results
