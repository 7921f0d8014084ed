"""Time as the formats mean it: dates and end-of-day in China time; stored
timestamps in UTC."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def today_in_china() -> date:
    return datetime.now(CHINA).date()


def as_utc(t: datetime | None) -> datetime | None:
    """Aware UTC. Naive values are taken as UTC: SQLite hands back what was
    stored (always UTC here) without its zone."""
    if t is None:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
