"""The pages a person sees: the QR landing page, lookup by number, upload."""

from __future__ import annotations

import logging
import re
from datetime import date
from decimal import Decimal
from typing import TypedDict

from flask import Blueprint, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup, escape
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from verifier.clock import today_in_china
from verifier.lookup import Entry, Refused, find, mask_name, needs_register, unlock
from verifier.numbers import CertificateNumber, NumberFormatError
from verifier.profiles import NoProfile, profile_for_cycle
from verifier.status import RegisterUnavailable, StatusSource
from verifier.token import Claims, from_base32, parse
from verifier.verdict import banner, number_line
from verifier.verify import Result, format_failed
from verifier.vocab import Verdict

from . import limiter
from .common import CODE_ATTEMPTS, BadDate, asked_date, log_wrong_code, online

bp = Blueprint("verify", __name__)
log = logging.getLogger("ecert.verifier")
RETRY_AFTER = 30  # seconds: a database restarting is back within that, mostly


class LookupSummary(TypedDict):
    """What a lookup by number alone shows (templates/verifier/summary.html)."""

    number: str
    state: str
    tone: str
    issuer: str
    cycle: int
    valid_until: date
    holder: str
    version: int
    issuer_name: str


def _page(result: Result, at: date, status: int = 200, **extra: object) -> tuple[str, int]:
    """The result page: the banner first, then what the certificate says
    (only when its signature verified), the credits as read against the
    rules, and each check (the technical detail folded away)."""
    claims = result.claims
    return render_template(
        "verifier/result.html",
        result=result,
        cert=result.certificate,
        at=at,
        banner=banner(result, at),
        reading=result.reading,
        current=result.current,
        verdict_label=Verdict(claims.status).label if claims else "",
        **extra,
    ), status


@bp.app_template_filter("amount")
def amount_filter(value: Decimal | None) -> str:
    """An amount as the formats write it (two decimals); "—" for none."""
    return "—" if value is None else f"{value:.2f}"


_DATE = re.compile(r"\d{4}-\d\d-\d\d")


@bp.app_template_filter("nowrap_dates")
def nowrap_dates(text: str) -> Markup:
    """Text with each YYYY-MM-DD kept on one line (a phone breaks it after a hyphen)."""
    return Markup(_DATE.sub(lambda m: f'<span class="nowrap">{m.group(0)}</span>', str(escape(text))))


def _date_or_today() -> tuple[date, str | None]:
    try:
        return asked_date(), None
    except BadDate as e:
        return today_in_china(), str(e)


@bp.get("/v/<path:token>")
@bp.get("/V/<path:token>")
def landing(token: str) -> ResponseReturnValue:
    at, date_error = _date_or_today()
    v = online().verifier()
    result = v.verify_text(token[:5000], at)
    return _page(result, at, 200 if result.checks[0].ok else 400, date_error=date_error, here=request.path)


@bp.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    return "", 204  # none: the page must not log a failed request


@bp.get("/verify")
@limiter.limit("60 per minute")
def lookup() -> ResponseReturnValue:
    at, date_error = _date_or_today()
    no, code = request.args.get("no", "").strip()[:40], request.args.get("code", "").strip()[:40]
    if not no:
        return render_template(
            "verifier/lookup.html", no="", code=code, at=request.args.get("at", ""), error=date_error
        )
    engine = online().engine
    try:
        if engine is None:  # on the status snapshot alone
            return _from_snapshot(no, code, at)
        entry = find(engine, no)
        if code:
            return _with_code(entry, code, at)
    except Refused as e:
        return render_template(
            "verifier/lookup.html", no=no, code=code, at=request.args.get("at", ""), error=e.message
        ), e.status
    return render_template(
        "verifier/summary.html", summary=_summary(entry, at), no=no, at=request.args.get("at", "")
    )


# The lookup by number alone on the status snapshot: the state and validity,
# but no name (the snapshot holds no token: docs/formats.md, "Register status").
NO_HOLDER = "—（状态快照中没有持证人姓名：请用查验码在联机查验服务查看，或扫描证书二维码）"


def _from_snapshot(no: str, code: str, at: date) -> ResponseReturnValue:
    """What the snapshot can say of a number typed: its newest version's
    state and validity; a 查验码 cannot be checked (the snapshot has none)."""
    try:
        number = CertificateNumber.parse(no)
    except NumberFormatError as e:
        raise Refused(400, "证书编号无效（校验位不符或位数不对）", f"bad certificate number: {e}") from None
    if code:
        raise needs_register(number.compact)
    status: StatusSource = online().status
    info = status.lookup(number.compact)
    if info is None:
        raise Refused(
            404, "查无此证书编号", f"number {number.compact} is not in the register ({status.description})"
        )
    version = info.current or info.latest
    v = info.of(version)
    assert v is not None and v.valid_until is not None  # a snapshot's version always has its validity
    tone, state = number_line(v.state, v.valid_until, at)
    summary: LookupSummary = {
        "number": number.printed,
        "state": f"{state}（{getattr(status, 'note', '')}）" if getattr(status, "note", "") else state,
        "tone": tone,
        "issuer": number.bureau,
        "cycle": number.cycle,
        "valid_until": v.valid_until,
        "holder": NO_HOLDER,
        "version": version,
        "issuer_name": _bureau_name(number.cycle, number.bureau),
    }
    return render_template("verifier/summary.html", summary=summary, no=no, at=request.args.get("at", ""))


def _count_code_attempt() -> None:
    """Each attempt with a 查验码 counts against the client, right or wrong:
    12 characters of 31 (31^12, about 8e17) cannot be guessed at this rate,
    and a review office checks a round's applicants from one address."""
    CODE_ATTEMPTS.hit(limiter)


def _with_code(entry: Entry, code: str, at: date) -> ResponseReturnValue:
    """Everything, for whoever holds the 查验码 (the holder hands it over),
    and the birth date, to match the certificate to the applicant's ID card."""
    _count_code_attempt()
    try:
        unlock(entry, code)
    except Refused:
        log_wrong_code(entry.number)
        raise
    result = online().verifier().verify_raw(from_base32(entry.token), at)
    details = result.register.details if result.genuine and result.register else None
    page, status = _page(result, at, born=details.holder_born if details else None)
    return page, status, {"Cache-Control": "no-store"}  # the birth date: nobody else's copy


def _summary(entry: Entry, at: date) -> LookupSummary:
    claims = parse(from_base32(entry.token)).claims
    tone, state = number_line(entry.state, claims.valid_until, at)
    return {
        "number": CertificateNumber.parse(entry.number).printed,
        "state": state,
        "tone": tone,
        "issuer": claims.issuer,
        "cycle": claims.cycle,
        "valid_until": claims.valid_until,
        "holder": mask_name(claims.holder),
        "version": entry.version,
        "issuer_name": _issuer_name(claims),
    }


def _issuer_name(claims: Claims) -> str:
    return _bureau_name(claims.cycle, claims.issuer)


def _bureau_name(cycle: int, issuer: str) -> str:
    try:
        return profile_for_cycle(cycle, issuer).issuer_name
    except NoProfile:
        return issuer


@bp.post("/verify/upload")
@limiter.limit("20 per minute")
def upload() -> ResponseReturnValue:
    at, date_error = _date_or_today()
    f = request.files.get("file")
    if f is None or not f.filename:
        return _page(
            format_failed("请选择 PDF 证书或二维码图片", "no file uploaded"), at, 400, date_error=date_error
        )
    try:
        data = f.read()
    finally:
        f.close()
    result = online().verifier().verify_bytes(data, f.filename[:100], at)
    return _page(result, at, 200 if result.checks[0].ok else 400, date_error=date_error)


@bp.app_errorhandler(RegisterUnavailable)
@bp.app_errorhandler(OperationalError)
@bp.app_errorhandler(InterfaceError)
def unavailable(e: Exception) -> ResponseReturnValue:
    """The database cannot be reached: 503 and when to try again, never a 500
    and never a verdict of "invalid" for a certificate nobody could look up."""
    log.error("register unavailable on %s: %s", request.path, e)
    headers = {"Retry-After": str(RETRY_AFTER)}
    if request.path.startswith("/api/"):
        return (
            jsonify(
                {
                    "error": "unavailable",
                    "message": "查验服务暂时不可用，请稍后再试",
                    "detail": "the certificate register cannot be reached; retry later",
                }
            ),
            503,
            headers,
        )
    verifier = request.path.startswith(("/verify", "/V/", "/v/")) or request.blueprint in ("verify", "api")
    text = "查验服务暂时不可用，请稍后再试" if verifier else "服务暂时不可用（数据库无法连接），请稍后再试"
    return render_template("verifier/lookup.html", no="", code="", at="", error=text), 503, headers


@bp.app_errorhandler(429)
def too_many(e: HTTPException) -> ResponseReturnValue:
    """Over a rate limit: the API keeps Flask-Limiter's answer; a person
    gets a page in Chinese that says to wait, not an English error."""
    if request.path.startswith("/api/"):
        return e
    if request.blueprint == "batch":
        from .batch import form_page

        page, status = form_page("查验过于频繁，请稍后再试", 429)
        return page, status, {"Retry-After": "60"}
    text = "查验过于频繁，请稍后再试（每个网络地址每分钟、每天的查验次数有上限）"
    if request.path.startswith(("/verify", "/V/", "/v/")):
        return (
            render_template(
                "verifier/lookup.html",
                no=request.args.get("no", "")[:40],
                code="",
                at=request.args.get("at", ""),
                error=text,
            ),
            429,
            {"Retry-After": "60"},
        )
    return (
        '<!DOCTYPE html><html lang="zh-CN"><meta charset="utf-8"><title>请求过于频繁</title>'
        "<p>请求过于频繁，请稍后再试。· Too many requests: try again later.</p></html>",
        429,
        {"Retry-After": "60", "Content-Type": "text/html; charset=utf-8"},
    )


@bp.app_errorhandler(413)
def too_large(_e: HTTPException) -> ResponseReturnValue:
    if request.path.startswith("/api/"):
        from .api import format_failure

        return format_failure("上传的文件过大（上限 10 MB）", "request body larger than 10 MB", 413)
    if request.blueprint == "batch":
        from .batch import MAX_UPLOAD, form_page

        return form_page(f"上传的文件合计过大（上限 {MAX_UPLOAD // 2**20} MB）：请分批查验", 413)
    return render_template("verifier/lookup.html", no="", error="文件过大（上限 10 MB）"), 413
