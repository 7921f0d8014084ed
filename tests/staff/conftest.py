"""The region of two schools (tests/conftest.py's `region`), with a signing
key, its certificates issued, and the background queue a list."""

from __future__ import annotations

import pytest

from tests.helpers import PASSPHRASE


@pytest.fixture
def keys(region, monkeypatch, tmp_path):
    """A signing key in a temporary folder, its passphrase in the environment."""
    monkeypatch.setenv("ECERT_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", PASSPHRASE)
    region.run("keys", "init")


@pytest.fixture
def issued(region, keys):
    """Every teacher's certificate issued."""
    region.run("issue")


@pytest.fixture
def issued_app(issued, region):
    """The office app made after the keys and the issuance, so its settings
    name the keys' folder."""
    from issuer.config import load_settings
    from issuer.web import create_app, limiter

    app = create_app(load_settings())
    limiter.reset()
    yield app
    app.extensions["ecert_verifier"].close()
    app.extensions["ecert_engine"].dispose()


@pytest.fixture
def numbers(region) -> dict[str, str]:
    """Certificate number of each ID number (the roster import registers them)."""
    from sqlalchemy import select

    from issuer.db import read_session
    from issuer.models import Registration, Teacher

    with read_session(region.engine) as s:
        return dict(
            s.execute(
                select(Teacher.id_number, Registration.number).join(
                    Registration, Registration.teacher_id == Teacher.id
                )
            ).all()
        )


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The background queue: the job ids the web requests handed to it
    (the test runs them)."""
    from issuer.office import tasks

    ids: list[int] = []
    monkeypatch.setattr(tasks, "enqueue", ids.append)
    return ids
