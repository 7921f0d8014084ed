"""0005: ID numbers stored in full-width digits before 2026-11-29 become
ASCII, and a person stored twice (full-width and ASCII) stops the upgrade."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import insert, select

from issuer.db import alembic_config, current_revision, make_engine, migrate
from issuer.errors import ConfigError
from issuer.models import School, Teacher
from tests.builders import id_number

NOW = datetime(2026, 11, 1, tzinfo=UTC)
pytestmark = pytest.mark.unmigrated  # each test migrates an empty database to 0004 itself


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else "Ｘ" if c == "X" else c for c in text)


@pytest.fixture
def at_0004(db_url):
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0004")
    with engine.begin() as c:
        c.execute(insert(School), [{"code": "S1", "name": "一小", "created_at": NOW, "updated_at": NOW}])
    yield engine
    engine.dispose()


def _teacher(c, number: str) -> None:
    c.execute(
        insert(Teacher),
        [
            {
                "id_number": number,
                "name": "张三",
                "school_code": "S1",
                "stage": "小学",
                "hired_on": date(2020, 9, 1),
                "created_at": NOW,
                "updated_at": NOW,
            }
        ],
    )


def test_full_width_id_numbers_are_rewritten_in_ascii(at_0004):
    ascii_id, other = id_number(seq=11), id_number(seq=12)
    with at_0004.begin() as c:
        _teacher(c, full_width(ascii_id))
        _teacher(c, other)
    migrate(at_0004)
    with at_0004.connect() as c:
        assert sorted(c.scalars(select(Teacher.id_number))) == sorted([ascii_id, other])


def test_one_person_stored_twice_stops_the_upgrade_and_changes_nothing(at_0004):
    ascii_id = id_number(seq=13)
    with at_0004.begin() as c:
        _teacher(c, full_width(ascii_id))
        _teacher(c, ascii_id)
    with pytest.raises(ConfigError, match="stored twice"):
        migrate(at_0004)
    assert current_revision(at_0004) == "0004"
    with at_0004.connect() as c:
        assert sorted(c.scalars(select(Teacher.id_number))) == sorted([full_width(ascii_id), ascii_id])
