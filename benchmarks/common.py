"""What every benchmark script shares: the machine's name for the header,
and how a script ends (figures only; non-zero only on a real error)."""
from __future__ import annotations

import platform
import sys
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
