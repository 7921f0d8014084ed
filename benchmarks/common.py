"""What every benchmark script shares: the machine's name for the header,
and how a script ends (figures only; non-zero only on a real error)."""

from __future__ import annotations

import gc
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def run_main(main: Callable[[], int], name: str) -> None:
    """Exit with main's code; a real error is printed and exits 1, ^C 130."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # a real error: say it and fail
        traceback.print_exc()
        print(f"\n{name}: error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


class BenchError(Exception):
    """A real error: the benchmark's run is not valid."""


def say(msg: str) -> None:
    print(msg, flush=True)


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """Wall time of fn(), after collecting the previous steps' garbage so
    that no step pays for another's."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def best_rate(work: Callable[[], int], runs: int) -> float:
    """Items per second of the best of `runs` runs of work (which returns
    how many items it did)."""
    best = float("inf")
    for _ in range(runs):
        n, seconds = timed(work)
        best = min(best, seconds / n)
    return 1 / best
