"""Time as the formats mean it: dates and end-of-day in China time; stored
timestamps in UTC.

Every "now" and "today" of the project comes from `_now`, so that tests can
move the whole project to another day (tests/conftest.py's `clock`) and
check what only happens later in a cycle: records dated before a final
review, a certificate past its validity. Nothing else replaces it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import overload
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def _now() -> datetime:
    return datetime.now(UTC)


def now_utc() -> datetime:
    return _now()


def today_in_china() -> date:
    return _now().astimezone(CHINA).date()


@overload
def as_utc(t: datetime) -> datetime: ...
@overload
def as_utc(t: None) -> None: ...
@overload
def as_utc(t: datetime | None) -> datetime | None: ...
def as_utc(t: datetime | None) -> datetime | None:
    """Aware UTC. Naive values are taken as UTC: SQLite hands back what was
    stored (always UTC here) without its zone."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
