"""The Celery app and the background batches' tasks (issuer/office/jobs.py does
the work; these only carry a job's id and a chunk's index).

The broker: CELERY_BROKER_URL (Redis, RabbitMQ, ...) when set, and any
number of workers on any number of machines share a batch; they need the
same DATABASE_URL and, for issuance, the signing keys (ECERT_KEYS_DIR,
ECERT_KEY_PASSPHRASE). Unset, the embedded default: kombu's SQLAlchemy
transport on a SQLite file in the data folder (`celery-broker.sqlite3`), on
which `ecert serve` runs one worker of its own. It needs no server, and
each put and get is one SQLite transaction (BEGIN IMMEDIATE), so a message
is never seen half-written, which kombu's filesystem transport cannot
promise (its reader may move a file its writer has created but not yet
filled). No result backend: progress and results are in the `jobs` table.

Every setting is read from the environment when the app is first
configured (a worker at start), never at import. ECERT_CELERY_QUEUE names
the queue (default "ecert"), so that several deployments can share a broker.

A worker lost (killed, its machine gone) loses nothing: its chunk, never
acknowledged (task_acks_late), comes back to the queue (RabbitMQ at once,
Redis after VISIBILITY_TIMEOUT), and every worker, when it starts, plans
each unfinished job again, which dispatches the chunks not done. While it
runs, a worker stamps its jobs with a heartbeat, so that a job nobody works
on is shown as stalled (issuer/office/jobs.py).

    celery -A issuer.office.tasks worker        # or: ecert worker
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import warnings

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown

from issuer.config import load_settings
from issuer.db import make_engine
from issuer.office import jobs
from issuer.processes import die_with_parent

log = logging.getLogger(__name__)

# Redis gives a delivered, unacknowledged message to another worker only
# after this many seconds (kombu's default: an hour, which left a killed
# worker's chunk, and its job, stuck that long). A chunk takes seconds (250
# teachers issued: under one; 50 PDFs: about 12 warm), so five minutes is
# some 25 times the longest: a chunk merely slow is not run twice meanwhile
# (harmless, but double work), and a dead worker's chunk comes back within
# minutes even when no worker restarts (one that does re-plans at once).
VISIBILITY_TIMEOUT = 300
REDIS_SCHEMES = ("redis", "rediss", "redis+socket", "sentinel")


def broker_url() -> str:
    """CELERY_BROKER_URL, or the embedded broker in the data folder."""
    settings = load_settings()
    if settings.celery_broker_url:
        return settings.celery_broker_url
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqla+sqlite:///{data_dir / 'celery-broker.sqlite3'}"


def embedded() -> bool:
    return not load_settings().celery_broker_url


def queue_name() -> str:
    return load_settings().celery_queue


def pdf_queue_name() -> str:
    """A teacher waiting for her PDF should not wait behind a whole render
    batch's chunks: her request has a queue of its own, which every worker
    also consumes (kombu takes from a worker's queues in turn)."""
    return f"{queue_name()}.pdf"


def _defaults() -> dict:
    local = embedded()
    url = broker_url()
    return {
        "broker_url": url,  # Celery itself prefers CELERY_BROKER_URL when set
        "broker_transport_options": _transport_options(url),
        "broker_connection_retry_on_startup": True,
        "task_default_queue": queue_name(),
        "task_ignore_result": True,  # the jobs table holds every result
        "task_acks_late": True,  # a chunk whose worker died is delivered again (chunks are idempotent)
        "task_reject_on_worker_lost": True,
        # One message at a time per process, so that the workers share a batch
        # chunk by chunk; the embedded worker is alone and may hold a few.
        "worker_prefetch_multiplier": 4 if local else 1,
        "worker_enable_remote_control": not local,  # no pidbox polling on the SQLite broker
        "worker_hijack_root_logger": False,
    }


def _transport_options(url: str) -> dict:
    if url.split(":", 1)[0].lower() not in REDIS_SCHEMES:
        return {}  # RabbitMQ requeues a lost consumer's messages itself; the embedded worker re-plans
    # kombu looks for messages past their timeout every 10 s, but by default
    # searches only every 10th time (100 s): every time, so that the timeout
    # above is what a clerk waits at most.
    return {"visibility_timeout": VISIBILITY_TIMEOUT, "unacked_restore_throttle": 1}


app = Celery("ecert", set_as_current=False)
app.add_defaults(_defaults)  # a promise: evaluated on first use


_engines: dict = {}


def _engine():
    """This process's engine (a forked pool process makes its own)."""
    settings = load_settings()
    key = (os.getpid(), settings.database_url)
    if key not in _engines:
        _engines[key] = make_engine(settings.database_url)
    return _engines[key], settings


@app.task(name="ecert.jobs.plan", bind=True)
def plan(self, job_id: int) -> int:
    engine, settings = _engine()
    queue = (self.request.delivery_info or {}).get("routing_key") or queue_name()
    return jobs.plan(engine, job_id, settings, dispatch=lambda j, i: chunk.apply_async((j, i), queue=queue))


@app.task(name="ecert.jobs.chunk", bind=True)
def chunk(self, job_id: int, index: int) -> str:
    engine, settings = _engine()
    return jobs.run_chunk(engine, job_id, index, settings, worker=self.request.hostname or "")


@app.task(name="ecert.pdf.one")
def certificate_pdf(number: str) -> str:
    """A teacher's PDF, rendered and signed into the download cache
    (issuer/pdf/cache.py): the web process asks, holding no key."""
    from issuer.pdf.cache import render_to_cache
    from verifier.profiles import load_profile

    engine, settings = _engine()
    return str(render_to_cache(engine, settings, load_profile(settings.profile_id), number))


@worker_process_init.connect
def _after_fork(**_) -> None:
    """A pool process must not share its parent's connections: the SQLite
    ones to the embedded broker (kombu caches its engines in the class), nor
    the database's of the parent's heartbeat (a replacement process is
    forked after it started)."""
    for key, engine in list(_engines.items()):
        if key[0] != os.getpid():
            engine.dispose(close=False)
    try:
        from kombu.transport.sqlalchemy import Channel
    except ImportError:  # pragma: no cover  (SQLAlchemy is a dependency)
        return
    for engine, _session in list(Channel._engines.values()):
        engine.dispose(close=False)


@worker_ready.connect
def _resume(sender=None, **_) -> None:
    """A job still queued or running when a worker starts may have lost
    messages: the embedded broker's when the service stopped, the chunk a
    killed worker held on Redis (back only after VISIBILITY_TIMEOUT). Plan it
    again, on any broker: that dispatches the chunks not done, and a chunk
    that turns out to be queued twice is done once (issuer/office/jobs.py).

    Several workers starting at once each plan every unfinished job again.
    The plans take turns on the job's row, each dispatching what is not done
    at its turn; the extra copies of a chunk find it done at their first look
    and do nothing, or, if two run at the same time, the later rolls back at
    recording. Extra messages, never extra certificates (test_jobs_workers.py
    kills a worker and starts two at once)."""
    _start_heartbeat(getattr(sender, "hostname", "") or "")
    engine, _settings = _engine()
    for job_id in jobs.unfinished(engine):
        plan.apply_async((job_id,), queue=queue_name())


_heartbeat: dict = {}


def _start_heartbeat(worker: str) -> None:
    """A thread of the worker's main process stamping its jobs every
    jobs.HEARTBEAT_EVERY seconds until it shuts down (a thread: a beat may
    wait on the database, and the worker's event loop must not)."""
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                jobs.heartbeat(_engine()[0], worker)
            except Exception:  # the database away a while: beat again later, the page says stalled meanwhile
                log.warning("heartbeat of %s not recorded", worker, exc_info=True)
            if stop.wait(jobs.HEARTBEAT_EVERY):
                return

    _stop_heartbeat()
    _heartbeat.update(stop=stop, thread=threading.Thread(target=beat, name="ecert-heartbeat", daemon=True))
    _heartbeat["thread"].start()


@worker_shutdown.connect
def _stop_heartbeat(**_) -> None:
    """The thread ends after the beat it may be in (not waited for here)."""
    stop = _heartbeat.pop("stop", None)
    _heartbeat.pop("thread", None)
    if stop is not None:
        stop.set()


def enqueue(job_id: int) -> None:
    """Hand a job to the queue, on the broker the environment names now (a
    connection of its own: the web process may outlive a setting's change
    in tests, and this is rare)."""
    _send(plan, (job_id,), queue_name())


def request_pdf(number: str) -> None:
    """Ask a worker for a teacher's signed PDF (the web process cannot sign)."""
    _send(certificate_pdf, (number,), pdf_queue_name())


def _send(task, args: tuple, queue: str) -> None:
    with warnings.catch_warnings():
        # kombu's SQLAlchemy transport maps its tables with lazy="noload",
        # which SQLAlchemy 2.1 deprecates; harmless for its two tables.
        warnings.filterwarnings("ignore", message=r".*``noload``.*")
        with app.connection_for_write(broker_url()) as conn:
            task.apply_async(
                args,
                connection=conn,
                queue=queue,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
            )


# -- the worker ------------------------------------------------------------


def worker_argv(
    *,
    concurrency: int | None = None,
    pool: str | None = None,
    loglevel: str = "info",
    hostname: str | None = None,
) -> list[str]:
    argv = [
        "worker",
        "--queues",
        f"{queue_name()},{pdf_queue_name()}",
        "--loglevel",
        loglevel,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    pool = pool or ("solo" if embedded() else None)
    if pool:
        argv += ["--pool", pool]
    if pool == "solo":
        concurrency = 1  # what solo means; Celery's banner would say the CPU count
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if hostname:
        argv += ["--hostname", hostname]
    return argv


def start_embedded_worker(loglevel: str = "info", **popen) -> subprocess.Popen:
    """`ecert worker` in a child process, for `ecert serve` without
    CELERY_BROKER_URL: one process (solo pool) on the embedded broker. It is
    told to stop if its parent dies."""
    return subprocess.Popen(
        [sys.executable, "-m", "issuer.cli", "worker", "--loglevel", loglevel],
        env=dict(os.environ),
        preexec_fn=_die_with_parent,
        **popen,
    )


def stop_worker(proc: subprocess.Popen, timeout: float = 30) -> None:
    """A warm shutdown (the current chunk finishes), then a kill."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def keep_environment_private() -> None:
    """A worker holds the signing key's passphrase in its environment. Not
    dumpable, its /proc/<pid>/environ and memory can be read by root only,
    not by a web process of the same user (which holds no passphrase)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass  # not Linux: nothing to do the same way


def _die_with_parent() -> None:
    die_with_parent(signal.SIGTERM)
