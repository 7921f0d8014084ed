"""Past one machine (ECERT_STORAGE=database): two Celery workers and a web
server whose data folders are separate, as on separate machines, sharing
only PostgreSQL and the Redis broker. Machine A runs worker w1; machine B
runs the web server (`ecert serve`, no passphrase) and, later, worker w2.

- a render job started from B's office page is worked by w1 on A; B's
  office downloads the job's ZIP and B's teacher her PDF, both as w1 made
  them: the PDFs and their manifest are in the database;
- a teacher whose PDF is not rendered yet: B's web server asks the queue,
  w1 on A renders and signs it into the cache in the database, and B
  serves it;
- with w2 started on B, a render job shared chunk by chunk finds in the
  database what w1 rendered (the manifest is shared) and renders only what
  changed;
- no PDF is written to any machine's data folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from issuer.config import load_settings
from issuer.db import make_engine
from issuer.office import jobs as jobs_lib
from issuer.office import tasks
from issuer.office.staff import Scope
from issuer.storage import DatabaseStorage
from tests.builders import record_row
from tests.helpers import NEW_PASSWORD
from tests.staff.test_jobs_workers import redis_queue, wait_for  # noqa: F401  # redis_queue: the fixture
from tests.staff.test_serve import Browser, _free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def db_url(pg_url):
    """PostgreSQL: the one thing the machines share, with the broker."""
    return pg_url


def _start(argv: list[str], data_dir: Path, log: Path, *, passphrase: bool = True) -> subprocess.Popen:
    env = {**os.environ, "ECERT_DATA_DIR": str(data_dir)}
    if not passphrase:
        env.pop("ECERT_KEY_PASSPHRASE", None)
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=tasks._die_with_parent,
        )


def _worker(name: str, data_dir: Path, log: Path) -> subprocess.Popen:
    """`celery -A issuer.office.tasks worker` as `ecert worker` runs it (both queues)."""
    argv = tasks.worker_argv(concurrency=1, hostname=f"{name}@%h")
    return _start(["-m", "celery", "-A", "issuer.office.tasks", *argv], data_dir, log)


def _pdfs_in(*folders: Path) -> list[Path]:
    return [p for f in folders for p in f.rglob("*.pdf")]


@pytest.mark.usefixtures("redis_queue")  # CELERY_BROKER_URL: a queue of this test's own on Redis
def test_a_pdf_one_machine_renders_is_downloaded_through_the_other(
    region, keys, numbers, tmp_path, monkeypatch
):
    monkeypatch.setenv("ECERT_STORAGE", "database")
    region.run("issue")
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    logs = {n: tmp_path / f"{n}.log" for n in ("w1", "w2", "web")}
    procs: dict[str, subprocess.Popen] = {}
    engine = make_engine(os.environ["DATABASE_URL"])
    store = DatabaseStorage(engine)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"

    def get_bytes(browser: Browser, path: str) -> bytes:
        with browser.opener.open(base + path, timeout=30) as r:
            assert r.status == 200, (path, r.status)
            return r.read()

    try:
        procs["w1"] = _worker("w1", a, logs["w1"])
        procs["web"] = _start(
            ["-m", "issuer.cli", "serve", "--port", str(port), "--workers", "1"],
            b,
            logs["web"],
            passphrase=False,
        )
        wait_for(
            lambda: logs["w1"].read_text(), lambda t: " ready." in t, "w1 ready", [logs["w1"]], timeout=60
        )

        def answering() -> bool:
            try:
                return Browser(base).get("/")[0] == 200
            except OSError:
                return False

        wait_for(answering, bool, "the web server on B", [logs["web"]], timeout=60)

        # B's office starts a render job; only w1, on A, is there to work it.
        aud = Browser(base)
        assert (
            aud.post("/office/login", {"username": "auditor", "password": region.codes["auditor"]})[0] == 302
        )
        assert (
            aud.post(
                "/office/password",
                {"old": region.codes["auditor"], "new": NEW_PASSWORD, "again": NEW_PASSWORD},
            )[0]
            == 302
        )
        status, _, where = aud.post("/office/jobs", {"kind": "render", "school": ""})
        assert status == 302 and "/office/jobs/" in where, status
        job_path = urllib.parse.urlsplit(where).path

        def job() -> dict:
            return json.loads(aud.get(job_path + ".json")[1])

        first = wait_for(
            job, lambda j: j["state"] in ("done", "failed"), "the render job", list(logs.values())
        )
        assert first["state"] == "done", first["error"]
        assert first["counts"] == {"rendered": 3, "unchanged": 0, "failed": 0}
        assert [w.split("@")[0] for w in first["workers"]] == ["w1"]
        assert not _pdfs_in(a, b), "a PDF in a machine's data folder"

        # B's office: the job's ZIP, made of what w1 rendered on A.
        assert "共享数据库" in aud.get(job_path)[1]
        z = zipfile.ZipFile(io.BytesIO(get_bytes(aud, job_path + ".zip")))
        assert len(z.namelist()) == 3 and z.testzip() is None
        for name in z.namelist():
            number = name.rsplit("/", 1)[-1][:16]
            assert z.read(name) == store.read(f"pdfs/{number}.pdf")
        one = tmp_path / "one.pdf"
        one.write_bytes(z.read(z.namelist()[0]))
        # checked by `ecert verify` in a process of its own, as a verifier would (in this one,
        # pyHanko's first import meets pytest's warnings-as-errors: a DSA deprecation warning)
        out = subprocess.run(
            [sys.executable, "-m", "issuer.cli", "verify", str(one), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "ECERT_DATA_DIR": str(b)},
        )
        result = json.loads(out.stdout)
        assert result["valid"] and next(c for c in result["checks"] if c["name"] == "pdf")["ok"], result

        # B's teacher downloads her PDF: the one w1 rendered on A.
        number = numbers[region.a[0]]
        codes_file = tmp_path / "codes.csv"
        region.run("passwords", "issue", "-o", str(codes_file))
        with codes_file.open(encoding="utf-8-sig") as f:
            code = next(r["一次性登录码"] for r in csv.DictReader(f) if r["证书编号"] == number)
        t = Browser(base)
        assert t.post("/teacher/login", {"account": number, "password": code})[0] == 302
        assert t.post("/teacher/password", {"new": "我的新密码-2026", "again": "我的新密码-2026"})[0] == 302
        assert get_bytes(t, "/teacher/certificate.pdf") == store.read(f"pdfs/{number}.pdf")

        # Reissued since: B's web server asks the queue, w1 on A renders and signs, B serves.
        region.run(
            "records", "import", str(region.records_file("more.csv", [record_row(region.a[0], "X-PRO")]))
        )
        region.run("issue", "--teacher", number)
        fresh = get_bytes(t, "/teacher/certificate.pdf")
        assert fresh.startswith(b"%PDF") and fresh != store.read(f"pdfs/{number}.pdf")
        cached = [k for k, _ in store.list(f"pdf-cache/{number}-")]
        assert len(cached) == 1 and store.read(cached[0]) == fresh
        assert re.search(r"Task ecert\.pdf\.one\[[^]]+\] succeeded", logs["w1"].read_text())
        assert not _pdfs_in(a, b)

        # w2 starts on B: the two share a render job, and find w1's PDFs in the database.
        procs["w2"] = _worker("w2", b, logs["w2"])
        wait_for(
            lambda: logs["w2"].read_text(), lambda t: " ready." in t, "w2 ready", [logs["w2"]], timeout=60
        )
        scope = Scope(0, "auditor", "auditor", None)
        job_id = jobs_lib.start(engine, load_settings(), scope, "render", None, tasks.enqueue, chunk=1)
        second = wait_for(
            lambda: json.loads(aud.get(f"/office/jobs/{job_id}.json")[1]),
            lambda j: j["state"] in ("done", "failed"),
            "the shared render job",
            list(logs.values()),
        )
        assert second["state"] == "done", second["error"]
        assert second["counts"] == {"rendered": 1, "unchanged": 2, "failed": 0}  # only the reissued one
        assert second["chunks_done"] == 3
        z = zipfile.ZipFile(io.BytesIO(get_bytes(aud, f"/office/jobs/{job_id}.zip")))
        assert len(z.namelist()) == 3
        assert not _pdfs_in(a, b)
    finally:
        for p in procs.values():
            tasks.stop_worker(p)
        engine.dispose()
