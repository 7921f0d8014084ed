"""What the verifier's pages and API share: the date asked for, and the
verifier of this app."""
from __future__ import annotations

from datetime import date

from flask import current_app, request

from verifier.clock import today_in_china


class BadDate(ValueError):
    pass


def asked_date() -> date:
    """?at=YYYY-MM-DD, the day a review took place; default today in China."""
    text = (request.values.get("at") or "").strip()
    if not text:
        return today_in_china()
    try:
        return date.fromisoformat(text[:10]) if len(text) == 10 else _bad(text)
    except ValueError:
        _bad(text)


def _bad(text: str):
    raise BadDate(f"日期格式应为 YYYY-MM-DD：{text[:20]}")


def online():
    return current_app.extensions["ecert_verifier"]
