"""Background batches on real Celery workers (subprocesses):

- the embedded mode, as `ecert serve` runs it: no CELERY_BROKER_URL, one
  worker started by issuer.office.tasks.start_embedded_worker (what serve calls) on
  the SQLite broker in the data folder; an auditor starts an issuance and a
  rendering from the pages and watches them end;
- the distributed mode: the real Redis broker and two `celery -A
  issuer.office.tasks worker --concurrency 1` processes on one PostgreSQL database
  share a batch chunk by chunk, and every teacher is issued exactly once;
- a worker killed (SIGKILL) with a chunk in flight on Redis: the job says it
  is stalled, two workers started at once finish it, each teacher issued
  exactly once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from issuer.certificates.audit import verify_chain
from issuer.config import load_settings
from issuer.db import make_engine, read_session
from issuer.models import AuditEntry, Certificate, Job, Registration
from issuer.office import jobs as jobs_lib
from issuer.office import tasks
from issuer.office.staff import Scope
from tests.builders import load_sample, record_row
from tests.helpers import PASSPHRASE, signed_in, start

REDIS_URL = os.environ.get("ECERT_TEST_REDIS", "redis://127.0.0.1:6379/0")
WAIT = 120  # seconds a job may take before the test gives up


def wait_for(read, done, what: str, logs: list[Path], timeout: float = WAIT):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = read()
        if done(value):
            return value
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    pytest.fail(f"{what} did not happen in {timeout} s; last seen {value}\n{tails}")


@pytest.fixture
def db_url(sqlite_url):
    """SQLite for the embedded mode, as the README's first command runs it
    (the PostgreSQL side of the workers is the Redis test's)."""
    return sqlite_url


@pytest.mark.slow
def test_the_embedded_worker_runs_jobs_started_from_the_pages(app, region, keys, monkeypatch, tmp_path):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    done = ("done", "failed")
    scope = Scope(0, "auditor", "auditor", None)

    def state(job_id: int) -> dict:
        with read_session(region.engine) as s:
            return jobs_lib.describe(jobs_lib.get(s, scope, job_id))

    # A job whose message was lost while no worker ran (the service stopped):
    lost = jobs_lib.start(region.engine, load_settings(), scope, "issue", None, enqueue=lambda job_id: None)
    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        worker = tasks.start_embedded_worker(stdout=out, stderr=out)  # as `ecert serve` starts it
    try:
        assert "solo" in tasks.worker_argv() and tasks.worker_argv()[1:3] == ["--queues", "ecert,ecert.pdf"]
        p = wait_for(lambda: state(lost), lambda p: p["state"] in done, "the lost job, resumed", [log])
        assert p["state"] == "done" and p["counts"]["issued"] == 3, p
        assert "sqla+sqlite" in log.read_text()
        assert "superuser privileges" not in log.read_text()  # Celery's root warning: not for a first run
        assert (load_settings().data_dir / "celery-broker.sqlite3").is_file()

        region.run(
            "records", "import", str(region.records_file("rec.csv", [record_row(region.a[0], "X-PRO")]))
        )
        aud = signed_in(app, region, "auditor")
        issue = start(aud, "issue").headers["Location"]
        p = wait_for(
            lambda: aud.get(issue + ".json").get_json(),
            lambda p: p["state"] in done,
            "the issuance job",
            [log],
        )
        assert p["state"] == "done", p["error"]
        assert p["counts"] == {"issued": 0, "reissued": 1, "unchanged": 2, "refused": 0}
        assert len(p["workers"]) == 1
        page = aud.get(issue).get_data(as_text=True)
        assert "已完成" in page and 'http-equiv="refresh"' not in page

        render = start(aud, "render").headers["Location"]
        p = wait_for(
            lambda: aud.get(render + ".json").get_json(),
            lambda p: p["state"] in done,
            "the rendering job",
            [log],
        )
        assert p["state"] == "done" and p["counts"] == {"rendered": 3, "unchanged": 0, "failed": 0}, p
        assert len(list(jobs_lib.pdf_dir(load_settings()).glob("*.pdf"))) == 3
    finally:
        tasks.stop_worker(worker)
    assert worker.returncode == 0  # a warm shutdown


# -- Redis, two workers, PostgreSQL ----------------------------------------


def _redis_reachable() -> str | None:
    from urllib.parse import urlparse

    u = urlparse(REDIS_URL)
    try:
        with socket.create_connection((u.hostname, u.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return None if sock.recv(16).startswith(b"+PONG") else "no PONG"
    except OSError as e:
        return f"{type(e).__name__}: {e}"


@pytest.fixture
def redis_queue(monkeypatch):
    """A queue of this test's own on the real Redis (others may share it)."""
    why = _redis_reachable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is not reachable in CI: {why}")
        pytest.skip(f"Redis not reachable ({why}); set ECERT_TEST_REDIS")
    queue = f"ecert-test-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("CELERY_BROKER_URL", REDIS_URL)
    monkeypatch.setenv("ECERT_CELERY_QUEUE", queue)
    yield queue
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for tag in _unacked(r, queue):  # a killed worker's: no one else's worker is to restore them later
        r.hdel("unacked", tag)
        r.zrem("unacked_index", tag)
    r.close()


def _unacked(r, queue: str) -> dict[bytes, dict]:
    """The messages of this queue that Redis holds delivered and not
    acknowledged (kombu's `unacked` hash: tag → [message, exchange, routing key])."""
    held = {}
    for tag, raw in r.hgetall("unacked").items():
        message, _exchange, routing_key = json.loads(raw)
        if routing_key == queue:
            held[tag] = message
    return held


TEACHERS, CHUNK = 60, 5


@pytest.fixture
def pg_bureau(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("ECERT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ECERT_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", PASSPHRASE)
    engine = make_engine(pg_url)
    load_sample(engine, tmp_path, TEACHERS)
    yield engine
    engine.dispose()


@pytest.mark.slow
def test_two_workers_on_redis_share_a_batch_and_issue_each_teacher_once(pg_bureau, redis_queue, tmp_path):
    engine, logs, workers = pg_bureau, [], []
    try:
        for name in ("w1", "w2"):
            logs.append(tmp_path / f"{name}.log")
            with open(logs[-1], "w") as out:
                workers.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "issuer.office.tasks",
                            "worker",
                            "--concurrency",
                            "1",
                            "--hostname",
                            f"{name}@%h",
                            "--queues",
                            redis_queue,
                            "--loglevel",
                            "info",
                            "--without-gossip",
                            "--without-mingle",
                            "--without-heartbeat",
                        ],
                        stdout=out,
                        stderr=out,
                        env=dict(os.environ),
                        preexec_fn=tasks._die_with_parent,
                    )
                )
        wait_for(
            lambda: [p.read_text() for p in logs],
            lambda texts: all(" ready." in t for t in texts),
            "both workers ready",
            logs,
            timeout=60,
        )
        scope = Scope(0, "auditor", "auditor", None)
        settings = load_settings()

        def run_job() -> dict:
            job_id = jobs_lib.start(engine, settings, scope, "issue", None, tasks.enqueue, chunk=CHUNK)

            def read():
                with read_session(engine) as s:
                    return jobs_lib.describe(jobs_lib.get(s, scope, job_id))

            return wait_for(read, lambda p: p["state"] in ("done", "failed"), f"job {job_id}", logs)

        first = run_job()
        assert first["state"] == "done", first["error"]
        assert first["counts"] == {"issued": TEACHERS, "reissued": 0, "unchanged": 0, "refused": 0}
        assert first["chunks"] == first["chunks_done"] == TEACHERS // CHUNK
        by_worker = first["workers"]
        assert sorted(w.split("@")[0] for w in by_worker) == ["w1", "w2"], by_worker  # both took chunks
        assert sum(by_worker.values()) == TEACHERS // CHUNK

        again = run_job()  # the same batch again: nothing to do, nothing issued twice
        assert again["counts"] == {"issued": 0, "reissued": 0, "unchanged": TEACHERS, "refused": 0}
    finally:
        for w in workers:
            tasks.stop_worker(w)
    with read_session(engine) as s:
        registered = set(s.scalars(select(Registration.number)))
        per_number = dict(
            s.execute(select(Certificate.number, func.count()).group_by(Certificate.number)).all()
        )
        issued = s.execute(
            select(AuditEntry.subject, func.count())
            .where(AuditEntry.action == "issue")
            .group_by(AuditEntry.subject)
        ).all()
        chain = verify_chain(s)
    assert len(registered) == TEACHERS and per_number == dict.fromkeys(registered, 1)
    assert dict(issued) == dict.fromkeys(registered, 1)
    assert chain.ok


# -- a worker killed mid-chunk on Redis ------------------------------------

# `celery` with each chunk held back: the chunk's message delivered (and not
# acknowledged), a file marks it taken, then a wait before any work, long
# enough for the test to kill the worker then. With ECERT_TEST_GATE, no chunk
# starts before that file exists (the test makes it once both new workers are
# ready, so that neither finishes the job before the other has planned it).
SLOW_CELERY = """
import os, sys, time
from pathlib import Path
from issuer.office import jobs
real = jobs.run_chunk
def run_chunk(engine, job_id, index, settings, worker=""):
    Path(os.environ["ECERT_TEST_TAKEN"], f"{job_id}-{index}").touch()
    time.sleep(float(os.environ["ECERT_TEST_CHUNK_DELAY"]))
    gate, t0 = os.environ.get("ECERT_TEST_GATE"), time.monotonic()
    while gate and not Path(gate).exists() and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    return real(engine, job_id, index, settings, worker)
jobs.run_chunk = run_chunk
from celery.__main__ import main
sys.argv[0] = "celery"
main()
"""


def _worker(name: str, queue: str, log: Path, *, slow: dict | None = None) -> subprocess.Popen:
    """A `celery -A issuer.office.tasks worker --concurrency 1` (prefork: a main
    process and one pool process) in a process group of its own, so that
    killing the group kills both, as a lost machine would."""
    command = ["-c", SLOW_CELERY] if slow else ["-m", "celery"]
    with open(log, "w") as out:
        return subprocess.Popen(
            [
                sys.executable,
                *command,
                "-A",
                "issuer.office.tasks",
                "worker",
                "--concurrency",
                "1",
                "--hostname",
                f"{name}@%h",
                "--queues",
                queue,
                "--loglevel",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            stdout=out,
            stderr=out,
            env={**os.environ, **(slow or {})},
            start_new_session=True,
            preexec_fn=tasks._die_with_parent,
        )


def test_redis_gives_a_lost_chunk_back_in_minutes_not_an_hour(monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", REDIS_URL)
    options = tasks._defaults()["broker_transport_options"]
    assert options["visibility_timeout"] == tasks.VISIBILITY_TIMEOUT <= 600
    assert options["unacked_restore_throttle"] == 1  # looked for every 10 s, not every 100
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest@127.0.0.1:5672//")
    assert tasks._defaults()["broker_transport_options"] == {}  # RabbitMQ requeues a lost consumer's itself


@pytest.mark.slow
def test_a_worker_killed_mid_chunk_on_redis_leaves_no_teacher_unissued_or_issued_twice(
    pg_bureau, redis_queue, tmp_path, clock
):
    engine, settings = pg_bureau, load_settings()
    scope = Scope(0, "auditor", "auditor", None)
    taken = tmp_path / "taken"
    taken.mkdir()
    logs = {name: tmp_path / f"{name}.log" for name in ("w1", "w2", "w3")}
    workers = {
        "w1": _worker(
            "w1",
            redis_queue,
            logs["w1"],
            slow={"ECERT_TEST_TAKEN": str(taken), "ECERT_TEST_CHUNK_DELAY": "1.5"},
        )
    }

    def page(job_id: int) -> dict:
        with read_session(engine) as s:
            return jobs_lib.describe(jobs_lib.get(s, scope, job_id))

    def tally(job_id: int) -> dict:
        with read_session(engine) as s:
            return json.loads(s.get(Job, job_id).result or "{}")

    try:
        wait_for(
            lambda: logs["w1"].read_text(), lambda t: " ready." in t, "w1 ready", [logs["w1"]], timeout=60
        )
        job_id = jobs_lib.start(engine, settings, scope, "issue", None, tasks.enqueue, chunk=CHUNK)

        def in_flight() -> int | None:
            """A chunk w1 took less than 0.7 s ago (it waits 1.5 s before any
            work) and has not done, once it has done two."""
            held = [
                int(f.name.split("-")[1])
                for f in taken.glob(f"{job_id}-*")
                if f.stat().st_mtime > time.time() - 0.7
            ]
            done = set(tally(job_id).get("chunks_done", []))
            return next((i for i in held if i not in done), None) if len(done) >= 2 else None

        index = wait_for(in_flight, lambda i: i is not None, "w1 holding a chunk", [logs["w1"]])
        os.killpg(workers["w1"].pid, signal.SIGKILL)  # main and pool process, mid-chunk
        workers["w1"].wait()
        alive = page(job_id)
        assert not alive["stalled"]  # it was working a moment ago

        # What issue 14 saw: the job running, the chunk not done and held by Redis for nobody.
        import redis

        r = redis.Redis.from_url(REDIS_URL)
        held = list(_unacked(r, redis_queue).values())
        r.close()
        assert [m["headers"]["task"] for m in held] == ["ecert.jobs.chunk"], held
        stuck = tally(job_id)
        assert index not in stuck["chunks_done"] and 2 <= len(stuck["chunks_done"]) < TEACHERS // CHUNK
        # A minute on, the page tells the truth: nobody is working, since w1's last sign of life.
        clock.move_to(jobs_lib.now_utc() + timedelta(seconds=jobs_lib.STALL_AFTER + 5))
        p = page(job_id)
        assert p["state"] == "running" and p["stalled"] and p["stalled_since"] == alive["last_alive_at"], p
        assert p["stalled_message"] == jobs_lib.STALLED.format(since=p["stalled_since"][11:16])
        clock.move_to(datetime.now(UTC))

        # Two workers start at once: each plans the job again, and the job ends.
        # Their chunks wait until both are ready: else the first could finish
        # the job before the second, on a loaded machine, had even looked.
        t0, gate = time.monotonic(), tmp_path / "both-ready"
        for name in ("w2", "w3"):
            slow = {
                "ECERT_TEST_TAKEN": str(taken),
                "ECERT_TEST_CHUNK_DELAY": "0",
                "ECERT_TEST_GATE": str(gate),
            }
            workers[name] = _worker(name, redis_queue, logs[name], slow=slow)
        for name in ("w2", "w3"):
            wait_for(
                lambda n=name: logs[n].read_text(),
                lambda t: " ready." in t,
                f"{name} ready",
                [logs[name]],
                60,
            )
        gate.touch()
        done = wait_for(
            lambda: page(job_id),
            lambda p: p["state"] in ("done", "failed"),
            f"job {job_id} after the kill",
            list(logs.values()),
            timeout=45,
        )
        recovered = time.monotonic() - t0

        def replans() -> int:
            return sum(
                len(re.findall(r"Task ecert\.jobs\.plan\[[^]]+\] succeeded", logs[n].read_text()))
                for n in ("w2", "w3")
            )

        # A worker still starting (a loaded machine) has not planned yet: wait for both.
        planned = wait_for(replans, lambda n: n >= 2, "both new workers' plans", list(logs.values()), 30)
    finally:
        for w in workers.values():
            tasks.stop_worker(w)
    assert done["state"] == "done" and not done["stalled"], done["error"]
    assert done["counts"] == {"issued": TEACHERS, "reissued": 0, "unchanged": 0, "refused": 0}
    assert done["done"] == TEACHERS and done["chunks_done"] == done["chunks"] == TEACHERS // CHUNK
    assert sum(done["workers"].values()) == TEACHERS // CHUNK  # each chunk recorded once
    assert {w.split("@")[0] for w in done["workers"]} >= {"w1"} and len(done["workers"]) >= 2
    assert planned == 2  # each new worker planned the job again, and still nobody was issued twice
    assert recovered < 30, recovered
    with read_session(engine) as s:
        registered = set(s.scalars(select(Registration.number)))
        current = dict(
            s.execute(
                select(Certificate.number, func.count())
                .where(Certificate.state == "current")
                .group_by(Certificate.number)
            ).all()
        )
        issued = dict(
            s.execute(
                select(AuditEntry.subject, func.count())
                .where(AuditEntry.action == "issue")
                .group_by(AuditEntry.subject)
            ).all()
        )
        chain = verify_chain(s)
    assert len(registered) == TEACHERS and current == dict.fromkeys(registered, 1)
    assert issued == dict.fromkeys(registered, 1)
    assert chain.ok, chain.problem
