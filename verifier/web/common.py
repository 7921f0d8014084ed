"""What the verifier's pages and API share: the date asked for, and the
verifier of this app."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, NoReturn

from flask import Response, current_app, request

from verifier.clock import today_in_china

if TYPE_CHECKING:
    from verifier.web import Online


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


def _bad(text: str) -> NoReturn:
    raise BadDate(f"日期格式应为 YYYY-MM-DD：{text[:20]}")


def json_body() -> object | None:
    """The request's JSON, or None when it is not JSON. Nesting too deep for
    the parser (`[` a hundred thousand times) is not JSON either: it raised
    RecursionError, which Flask's silent mode does not catch (a 500)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def online() -> Online:
    """The verifier that init_verifier mounted on this app."""
    mounted: Online = current_app.extensions["ecert_verifier"]  # Flask keeps extensions as Any
    return mounted


# What jsonify writes with this app's settings (ASCII, compact, keys in
# their order: create_app sets sort_keys off), from one encoder made once.
_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), sort_keys=False)


def json_response(obj: Mapping[str, object], status: int) -> Response:
    """`jsonify(obj), status`, byte for byte, for plain JSON values (dicts,
    lists, text, numbers, booleans, None), without its per-call setup."""
    return current_app.response_class(_JSON.encode(obj) + "\n", status, mimetype="application/json")
