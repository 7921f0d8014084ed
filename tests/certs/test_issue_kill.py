"""A batch issuance killed half-way (a real process, SIGKILL) and run again
ends with exactly one current certificate per teacher, no duplicate, and an
unbroken audit chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from issuer.certificates.audit import verify_chain
from issuer.certificates.issuance import CHUNK
from issuer.db import make_engine, read_session
from issuer.models import AuditEntry, Certificate, Registration
from tests.builders import load_sample
from tests.helpers import PASSPHRASE

TEACHERS = 2000


@pytest.fixture
def loaded(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", PASSPHRASE)
    engine = make_engine(db_url)
    load_sample(engine, tmp_path, TEACHERS)
    yield engine
    engine.dispose()


def _issue(db_url, tmp_path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "ECERT_KEYS_DIR": str(tmp_path / "keys"),
        "ECERT_KEY_PASSPHRASE": PASSPHRASE,
        "ECERT_DATA_DIR": str(tmp_path / "data"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "issuer.cli", "issue"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count(engine, *where) -> int:
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(Certificate).where(*where))


@pytest.mark.slow
def test_kill_mid_batch_then_rerun_is_consistent(loaded, db_url, tmp_path):
    proc = _issue(db_url, tmp_path)
    deadline = time.monotonic() + 120
    while _count(loaded) < CHUNK and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    done = _count(loaded)
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    assert CHUNK <= done < TEACHERS and done % CHUNK == 0  # whole chunks only

    rerun = _issue(db_url, tmp_path)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"签发 {TEACHERS - done}，重新签发 0，未变化 {done}，拒绝 0" in out

    with read_session(loaded) as s:
        registered = s.scalar(select(func.count()).select_from(Registration))
        per_number = s.execute(
            select(Certificate.number, func.count()).group_by(Certificate.number).having(func.count() > 1)
        ).all()
        issues = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "issue"))
        chain = verify_chain(s)
    assert registered == TEACHERS
    assert _count(loaded, Certificate.state == "current") == TEACHERS == _count(loaded)
    assert per_number == []
    assert issues == TEACHERS and chain.ok, chain.problem
