"""Issuance over processes (issuer/certificates/fanout.py): the same
certificates, audit chain and counts as one process, and a plan that went
stale while a worker made it (another issuer, a key rotation) decided again
rather than stored; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from issuer.certificates import fanout, issuance
from issuer.certificates.audit import verify_chain
from issuer.certificates.keystore import Keystore
from issuer.config import load_settings
from issuer.db import make_engine, read_session, write_session
from issuer.models import AuditEntry, Certificate
from tests.helpers import show, verify
from verifier.clock import today_in_china
from verifier.profiles import load_profile

A, B, C = "6540040710000014", "6540040710000022", "6540040710000030"
PIDS = "ECERT_TEST_PID_FOLDER"


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def setup(keyed, bureau, db, monkeypatch, tmp_path):
    """Three chunks of one teacher each; the issuer and its opened key."""
    monkeypatch.setattr(fanout, "CHUNK", 1)
    settings, profile = load_settings(), load_profile("horgos-7")
    store = Keystore(settings.keys_dir, "test")
    issuer = issuance.Issuer(db, profile, store, settings.base_url, "test")
    return issuer, store, profile


def _plan_noting_pid(bounds):
    """fanout._plan, leaving the worker's pid behind (module level: the pool pickles it by name)."""
    (Path(os.environ[PIDS]) / str(os.getpid())).touch()
    return _real_plan(bounds)


_real_plan = fanout._plan


def versions(db) -> list[tuple[str, int, str, str]]:
    with db.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                select(Certificate.number, Certificate.version, Certificate.state, Certificate.kid).order_by(
                    Certificate.number, Certificate.version
                )
            )
        ]


def test_workers_issue_what_one_process_would(setup, db, keyed, monkeypatch, tmp_path):
    issuer, _, _ = setup
    folder = tmp_path / "pids"
    folder.mkdir()
    monkeypatch.setenv(PIDS, str(folder))
    monkeypatch.setattr(fanout, "_plan", _plan_noting_pid)
    options = issuance.IssueOptions(as_of=today_in_china())
    first = fanout.run(issuer, options, workers=2)
    assert (first.issued, first.unchanged, first.refused) == (3, 0, [])
    workers = {int(p.name) for p in folder.iterdir()}
    assert workers and os.getpid() not in workers  # planned in other processes
    again = fanout.run(issuer, options, workers=2)
    assert (again.issued, again.reissued, again.unchanged) == (0, 0, 3)
    assert [(n, v, s) for n, v, s, _ in versions(db)] == [
        (A, 1, "current"),
        (B, 1, "current"),
        (C, 1, "current"),
    ]
    assert all(verify(keyed, show(keyed, n)["token"])["valid"] for n in (A, B, C))
    assert chain(db) == ["issue"] * 3


def chain(db) -> list[str]:
    """The audit chain's certificate events, the chain checked whole."""
    with read_session(db) as s:
        report = verify_chain(s)
        assert report.ok, report
        return list(
            s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.in_(("issue", "reissue")))
                .order_by(AuditEntry.seq)
            )
        )


def _stale_after_first(monkeypatch, meddle):
    """fanout's plans, with `meddle()` run once after the first is made and
    before it is stored: what another process could do in that moment."""
    real = fanout._planned
    done = []

    def planned(*args):
        for plan in real(*args):
            if not done:
                meddle()
                done.append(True)
            yield plan

    monkeypatch.setattr(fanout, "_planned", planned)


def test_a_teacher_issued_meanwhile_is_decided_again_not_issued_twice(setup, db, keyed, monkeypatch):
    issuer, _, _ = setup
    _stale_after_first(monkeypatch, lambda: keyed("issue", "--teacher", A))
    summary = fanout.run(issuer, issuance.IssueOptions(as_of=today_in_china()), workers=2)
    assert (summary.issued, summary.unchanged) == (2, 1)  # A: the other run's version stands
    assert [(n, v) for n, v, *_ in versions(db)] == [(A, 1), (B, 1), (C, 1)]
    assert chain(db) == ["issue"] * 3


def test_a_rotation_meanwhile_signs_the_stale_chunk_with_the_new_key(setup, db, keyed, monkeypatch):
    issuer, store, profile = setup
    rotated = []

    def rotate():
        with write_session(db) as s:
            rotated.append(store.rotate(s, profile.issuer_code)[1].kid)

    _stale_after_first(monkeypatch, rotate)
    summary = fanout.run(issuer, issuance.IssueOptions(as_of=today_in_china()), workers=2)
    assert summary.issued == 3 and rotated
    kids = [kid for *_, kid in versions(db)]
    assert kids[0] == rotated[0]  # the first chunk, planned under the old key, signed again
    results = [verify(keyed, show(keyed, n)["token"]) for n in (A, B, C)]
    assert all(r["valid"] for r in results), [r["checks"] for r in results]


def test_one_worker_or_one_teacher_runs_in_this_process(setup, monkeypatch):
    issuer, _, _ = setup

    def never(*a, **k):
        raise AssertionError("no pool for this run")

    monkeypatch.setattr(fanout, "_planned", never)
    options = issuance.IssueOptions(as_of=today_in_china())
    assert fanout.run(issuer, options, workers=1).issued == 3
    one = issuance.IssueOptions(as_of=today_in_china(), teacher=A)
    assert fanout.run(issuer, one, workers=2).unchanged == 1
