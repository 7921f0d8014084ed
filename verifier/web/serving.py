"""How gunicorn serves the verifier, and the bureau's whole service: a
gunicorn config module, and the same settings for a program that embeds
gunicorn (`ecert serve`) through `settings()`.

    gunicorn -c python:verifier.web.serving 'verifier.web:create_app()'

What it sets, and why (benchmarks/bench_verifier.py measures each):

- The startup heap is frozen out of the garbage collector (`gc.freeze()`)
  once the app is loaded in each worker (post_worker_init), and in the
  master too when the app is loaded there before the fork (when_ready).
  A loaded app is about 77,000 objects, and the collector's full
  collection walks all of them: 20-37 ms in a quiet process, 36-120 ms in
  a worker under load on two cores, all of it inside the request that
  happened to trigger it, while the other worker serves the queue alone.
  Frozen, they are never walked again: a full collection then walks only
  what requests left behind (no pause above 11 ms in the runs measured).
  (In the master it also keeps the collector from writing to every
  object's header in each worker, which would copy the heap page by page
  after the fork.) The thresholds are left at Python's: all collections
  together cost 2-4 µs a request.
- The workers' heartbeat file is in /dev/shm when there is one. gunicorn
  touches it (`os.utime`) before every request a sync worker accepts; on
  a disk file system that is a journalled inode update (about 10 µs on
  this machine's ext4, 13-14 µs beside 2,000 fsyncs a second, against 9 µs
  in memory). None took 5 ms in the runs measured, but on a disk it can
  wait for the journal, as gunicorn's documentation warns; in memory it
  cannot.
- Sync workers, one request at a time each. gthread with keep-alive was
  slower for both the verifier and a bare Flask route on the same two
  cores (the threads contend for the GIL) and had a longer tail.
"""

from __future__ import annotations

import gc
import os
from typing import Any

SHM = "/dev/shm"

worker_class = "sync"
worker_tmp_dir = SHM if os.path.isdir(SHM) else None


def freeze_heap() -> None:
    """Collect what start-up left behind, then move every object alive now
    into the permanent generation, which collections never walk."""
    gc.collect()
    gc.freeze()


def when_ready(server: Any) -> None:
    """The master, before it forks the workers (an app loaded there, as
    `ecert serve` loads it, is then frozen before the workers share it)."""
    freeze_heap()


def post_worker_init(worker: Any) -> None:
    """Each worker, once it has loaded the app, before its first request."""
    freeze_heap()


def settings() -> dict[str, Any]:
    """This module's gunicorn settings, for `cfg.set(name, value)` in a
    gunicorn BaseApplication's load_config."""
    out: dict[str, Any] = {
        "worker_class": worker_class,
        "when_ready": when_ready,
        "post_worker_init": post_worker_init,
    }
    if worker_tmp_dir is not None:
        out["worker_tmp_dir"] = worker_tmp_dir
    return out
