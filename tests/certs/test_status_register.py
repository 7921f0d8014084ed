"""DatabaseStatus against the real register table, on SQLite and PostgreSQL:
the online status source of every verification."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from verifier import schema
from verifier.status import DatabaseStatus

NUMBER = "6540040710000014"
ISSUED = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
SUPERSEDED_AT = datetime(2027, 1, 5, 8, 15, 30, 123456, tzinfo=UTC)


def _version(version: int, state: str, changed_at=None, reason=None) -> dict:
    return {
        "number": NUMBER,
        "version": version,
        "bureau_code": "654004",
        "cycle": 7,
        "state": state,
        "verdict": 1,
        "kid": "AAAAAAAAAAA",
        "issued_at": ISSUED,
        "valid_until": date(2029, 12, 31),
        "token": "T",
        "token_sha256": f"{version:x}" * 64,
        "credits_total": 9000 + version,
        "fingerprint": "f" * 64,
        "check_code": "ABCD-EFGH",
        "summary": f'{{"v": {version}}}',
        "holder_born": date(1985, 3, version),
        "changed_at": changed_at,
        "revoke_reason": reason,
    }


@pytest.fixture
def status(engine):
    source = DatabaseStatus(engine)
    yield source
    source.close()


def _register(engine, *versions: dict) -> None:
    with engine.begin() as c:
        c.execute(insert(schema.certificates), list(versions))


def test_versions_come_back_in_order_with_their_times_and_reasons(engine, status):
    _register(engine, _version(2, "current"), _version(1, "superseded", SUPERSEDED_AT))
    info = status.lookup(NUMBER)
    assert [v.state for v in info.versions] == ["superseded", "current"]
    assert info.versions[0].changed_at == SUPERSEDED_AT
    assert info.versions[0].changed_at.utcoffset() == timedelta(0)
    assert info.versions[1].changed_at is None and info.versions[1].reason is None
    assert status.lookup("6540040710000022") is None
    # what binds a token, and what the current version certifies, with each version
    v = info.versions[1]
    assert (v.digest, v.verdict, v.valid_until, v.total) == ("2" * 64, 1, date(2029, 12, 31), 9002)
    assert v.issued_at == ISSUED and v.issued("2" * 64) and not v.issued("1" * 64)
    assert info.current == 2 and info.details is None  # no version asked: no details


def test_the_asked_versions_summary_and_birth_date_come_in_the_same_lookup(engine, status):
    _register(engine, _version(1, "superseded", SUPERSEDED_AT), _version(2, "current"))
    for asked in (1, 2):
        details = status.lookup(NUMBER, asked).details
        assert (details.summary, details.holder_born) == (f'{{"v": {asked}}}', date(1985, 3, asked))
    assert status.lookup(NUMBER, 3).details is None
    # a version no 4-byte integer holds (a forged token may claim one) is none of the register's
    assert status.lookup(NUMBER, 2**31).details is None and status.lookup(NUMBER, 2**63 - 1).current == 2


def test_a_revocation_is_seen_by_the_next_lookup_on_the_same_connection(engine, status):
    _register(engine, _version(1, "current"))
    assert status.lookup(NUMBER).versions[0].state == "current"
    revoked_at = ISSUED + timedelta(days=100)
    with engine.begin() as c:
        c.execute(
            update(schema.certificates).values(
                state="revoked", changed_at=revoked_at, revoke_reason="材料造假"
            )
        )
    v = status.lookup(NUMBER).versions[0]
    assert (v.state, v.changed_at, v.reason) == ("revoked", revoked_at, "材料造假")


def test_a_dropped_connection_is_replaced_and_the_lookup_still_answers(engine, status):
    _register(engine, _version(1, "current"))
    assert status.lookup(NUMBER) is not None
    dropped = status._local.conn
    dropped.connection.dbapi_connection.close()  # as a server restart would leave it
    assert status.lookup(NUMBER).versions[0].state == "current"
    assert status._local.conn is not dropped


def test_a_register_that_cannot_be_reached_says_so_after_one_retry():
    from sqlalchemy import create_engine

    from verifier.status import RegisterUnavailable

    status = DatabaseStatus(
        create_engine("postgresql+psycopg://postgres@127.0.0.1:9/test")
    )  # nothing listens
    with pytest.raises(RegisterUnavailable):
        status.lookup(NUMBER, 1)
