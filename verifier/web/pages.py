"""The pages a person sees: the QR landing page, lookup by number, upload."""
from __future__ import annotations

import logging
from decimal import Decimal

from flask import Blueprint, render_template, request

from verifier.numbers import CertificateNumber, NumberFormatError
from verifier.clock import CHINA
from verifier.profiles import ProfileError, RulesProfile, profile_for_cycle
from verifier.requirements import prorate, yearly_rule_text
from verifier.register import code_matches, mask_name, newest
from verifier.token import from_base32, parse
from verifier.verify import Result, format_failed, qualifying_share
from verifier.vocab import BUCKET_LABELS, BUCKETS

from . import limiter
from .common import BadDate, asked_date, online

bp = Blueprint("verify", __name__)
log = logging.getLogger("ecert.verifier")
STATE_LABELS = {"current": "现行有效", "superseded": "已被新版本取代", "revoked": "已撤销"}


def _page(result: Result, at, status: int = 200, **extra):
    cert, profile = result.certificate, result.profile
    share = _share(result, profile)
    return render_template("verifier/result.html", result=result, cert=cert, at=at,
                           rows=_credit_rows(cert, profile, share), years=_year_rows(result, profile, share),
                           share=share, yearly_rule=yearly_rule_text(profile) if profile else "",
                           before_issue=_before_issue(result, at), **extra), status


def _before_issue(result: Result, at) -> str | None:
    """This version's issue day when the date asked is before it (still
    within validity by FORMATS.md, but worth saying beside the verdict)."""
    c = result.claims
    issued = c.issued_at.astimezone(CHINA).date() if c else None
    return issued.isoformat() if issued and at < issued else None


def _plain(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _share(result: Result, profile: RulesProfile | None) -> tuple[int, int] | None:
    """(k, n) when a qualified late joiner's totals meet the minimums
    prorated for k of the cycle's n years (the credits check's reading)."""
    c = result.claims
    if profile is None or c is None or c.status != 1 or not result.check("credits").ok:
        return None
    k, _ = qualifying_share(c, profile)
    return (k, len(profile.years)) if 0 < k < len(profile.years) else None


def _credit_rows(cert, profile, share) -> list[tuple[str, str, str]]:
    """Each bucket, its amount and the minimum that applies to this
    certificate (prorated for a late joiner whose totals meet only that)."""
    if not cert:
        return []
    minimums = {}
    if profile is not None:
        minimums = prorate(profile.minimums, *share) if share else profile.minimums
    return [(BUCKET_LABELS[b], cert["credits"][b], f"{minimums[b]:.2f}" if b in minimums else "—")
            for b in BUCKETS]


def _year_rows(result: Result, profile, share) -> list[tuple[str, str, str]]:
    """Each year, its total and what can be said of it from the token, which
    carries each year's total only (DOMAIN.md: a short year is reported on
    the verifier page too): at or above the yearly total, below it, still
    under way when this version was issued (the token's issue day stands
    for the sheet's as-of day, which it does not carry), before a
    qualified late joiner's first full year, or without any credits before
    the first year that has some (a late joiner's years before her hire
    owe nothing, and the token does not say when she was hired)."""
    cert, c = result.certificate, result.claims
    if not cert:
        return []
    minimum = profile.yearly.minimums.get("total") if profile and profile.yearly else None
    issued = c.issued_at.astimezone(CHINA).date()
    first_owed = len(c.years) - share[0] if share else 0
    first_credited = next((i for i, v in enumerate(c.years) if v), len(c.years))
    rows = []
    for i, (year, total) in enumerate(cert["years"].items()):
        if minimum is None:
            note = ""
        elif i < first_owed:
            note = "不作要求（入职前或未满一年）"
        elif i < first_credited:
            note = "无学分记录"
        elif Decimal(total) >= minimum:
            note = f"合计达 {_plain(minimum)} 学分"
        elif c.status == 0 and int(year) >= issued.year and issued < profile.review_opens:
            note = "签发时年度未结束"
        else:
            note = f"低于年度 {_plain(minimum)} 学分"
        rows.append((year, total, note))
    return rows


def _date_or_today():
    try:
        return asked_date(), None
    except BadDate as e:
        from verifier.clock import today_in_china
        return today_in_china(), str(e)


@bp.get("/v/<path:token>")
@bp.get("/V/<path:token>")
def landing(token: str):
    at, date_error = _date_or_today()
    v = online().verifier()
    result = v.verify_text(token[:5000], at)
    return _page(result, at, 200 if result.checks[0].ok else 400, date_error=date_error,
                 here=request.path)


@bp.get("/favicon.ico")
def favicon():
    return "", 204  # none: the page must not log a failed request


@bp.get("/verify")
@limiter.limit("60 per minute")
def lookup():
    at, date_error = _date_or_today()
    no, code = request.args.get("no", "").strip()[:40], request.args.get("code", "").strip()[:40]
    if not no:
        return render_template("verifier/lookup.html", no="", error=date_error)
    try:
        number = CertificateNumber.parse(no).compact
    except NumberFormatError:
        return render_template("verifier/lookup.html", no=no, error="证书编号无效（校验位不符或位数不对）"), 400
    entry = newest(online().engine, number)
    if entry is None:
        return render_template("verifier/lookup.html", no=no, error="查无此证书编号"), 404
    if code:
        return _with_code(entry, code, at)
    return render_template("verifier/summary.html", summary=_summary(entry, at), no=no)


def _with_code(entry, code, at):
    # Each attempt with a 查验码 counts against the client, right or wrong:
    # 12 characters of 31 cannot be guessed at 10 a minute.
    with limiter.limit("10 per minute; 100 per day", key_func=lambda: f"code:{request.remote_addr}"):
        pass
    if not code_matches(entry, code):
        log.warning("wrong 查验码 for %s from %s", entry.number, request.remote_addr)
        return render_template("verifier/lookup.html", no=entry.number, error="查验码不正确"), 403
    return _page(online().verifier().verify_raw(from_base32(entry.token), at), at)


def _summary(entry, at) -> dict:
    claims = parse(from_base32(entry.token)).claims
    state = STATE_LABELS.get(entry.state, entry.state)
    if entry.state == "current" and at > claims.valid_until:
        state = "已过有效期"
    return {"number": CertificateNumber.parse(entry.number).printed, "state": state,
            "issuer": claims.issuer, "cycle": claims.cycle, "valid_until": claims.valid_until,
            "holder": mask_name(claims.holder), "version": entry.version, "issuer_name": _issuer_name(claims)}


def _issuer_name(claims) -> str:
    try:
        return profile_for_cycle(claims.cycle, claims.issuer).issuer_name
    except ProfileError:
        return claims.issuer


@bp.post("/verify/upload")
@limiter.limit("20 per minute")
def upload():
    at, date_error = _date_or_today()
    f = request.files.get("file")
    if f is None or not f.filename:
        return _page(format_failed("请选择 PDF 证书或二维码图片", "no file uploaded"), at, 400,
                     date_error=date_error)
    try:
        data = f.read()
    finally:
        f.close()
    result = online().verifier().verify_bytes(data, f.filename[:100], at)
    return _page(result, at, 200 if result.checks[0].ok else 400, date_error=date_error)


@bp.app_errorhandler(413)
def too_large(_e):
    if request.path.startswith("/api/"):
        from .api import format_failure
        return format_failure("上传的文件过大（上限 10 MB）", "request body larger than 10 MB", 413)
    return render_template("verifier/lookup.html", no="", error="文件过大（上限 10 MB）"), 413
