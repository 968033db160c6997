"""Running one step in several threads released at the same instant: races on one file."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(step: Callable[[int], object], n: int) -> list[Exception]:
    """Run ``step(0)`` ... ``step(n - 1)`` in ``n`` threads that start together; return the
    exceptions they raised (none when every step succeeded)."""
    start, errors = threading.Barrier(n), []

    def run(i: int) -> None:
        start.wait()
        try:
            step(i)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
