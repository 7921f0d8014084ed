"""What the verifier's pages and API share: the date asked for, and the
verifier of this app."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, NoReturn

import orjson
from flask import Response, current_app, request
from flask_limiter import Limiter
from werkzeug.exceptions import TooManyRequests

from verifier.clock import today_in_china

from .ratelimit import SharedCount

if TYPE_CHECKING:
    from verifier.web import Source


log = logging.getLogger("ecert.verifier")


class BadDate(ValueError):
    pass


def log_wrong_code(number: str) -> None:
    """A wrong 查验码 for `number` from this request's client (logged, never the code)."""
    log.warning("wrong 查验码 for %s from %s", number, request.remote_addr)


# Every 查验码 tried on the lookup page counts, and every wrong one in a batch
# (a committee's right ones do not: a round of 200 applicants would not fit).
CODE_ATTEMPTS = SharedCount("30 per minute; 1000 per day", "code")


class ClientCodeGate:
    """A batch's number+code items for this request's client: tried while
    its 查验码 attempts are within the lookup page's limit."""

    def open(self) -> bool:
        return CODE_ATTEMPTS.allows(limiter())

    def wrong(self, number: str) -> None:
        log_wrong_code(number)
        # this one is answered already (a wrong code); past the limit the gate shuts for the next
        with contextlib.suppress(TooManyRequests):
            CODE_ATTEMPTS.hit(limiter())


def limiter() -> Limiter:
    from verifier.web import limiter as the_limiter

    return the_limiter


def asked_date() -> date:
    """?at=YYYY-MM-DD, the day a review took place; default today in China.
    A form's `at` counts when the query has none (`request.values`, whose
    combined dict cost a GET more than reading the query alone)."""
    text = request.args.get("at")
    if text is None and request.method != "GET":
        text = request.form.get("at")
    return parse_date(text or "")


def parse_date(text: str) -> date:
    """A day asked for as YYYY-MM-DD (blank: today in China), or BadDate."""
    text = text.strip()
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


def online() -> Source:
    """The verifier that mount_verifier mounted on this app: on the register
    (Online) or on the published status snapshot (FromSnapshot)."""
    mounted: Source = current_app.extensions["ecert_verifier"]  # Flask keeps extensions as Any
    return mounted


def json_response(obj: Mapping[str, object], status: int) -> Response:
    """`jsonify(obj), status` for plain JSON values (dicts with text keys,
    lists, text, numbers, booleans, None): compact, keys in their order, but
    UTF-8 rather than \\u escapes, and encoded by orjson, which is C: the
    json module's encoder was a tenth of a verification's time (its
    3 KB result), orjson's is a hundredth. Text that UTF-8 cannot carry (a
    lone surrogate, which a request's JSON can spell as "\\ud800" and an
    answer may quote back) is written by the json module, escaped."""
    try:
        body = orjson.dumps(obj)
    except orjson.JSONEncodeError:
        body = _ESCAPED.encode(obj).encode("ascii")
    return current_app.response_class(body + b"\n", status, mimetype="application/json")


_ESCAPED = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), sort_keys=False)
