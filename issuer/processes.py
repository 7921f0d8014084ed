"""Child processes that do not outlive the process that made them."""

from __future__ import annotations

import os
import signal


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send `sig` when the parent goes, however it goes (a
    SIGKILL included), and go now if it has gone already. Elsewhere a no-op.

    A worker left behind would hold its parent's pipes open (whoever waits
    for their end waits for ever) and keep its part of a job running."""
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), sig)
