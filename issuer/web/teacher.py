"""The teacher's pages: sign in with the certificate number or ID number,
change the one-time code, see the credit sheet and the certificate's
versions, download the current PDF. Every page works on the signed-in
teacher alone: no teacher is ever named by the URL."""

from __future__ import annotations

import functools
import io
import time
from decimal import Decimal
from typing import NamedTuple

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    send_file,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.ledger.credits.ledger import find_holder, sheet_for
from issuer.ledger.credits.sheet import CreditSheet, YearTally, amount
from issuer.office.accounts import REFUSED, account_key, authenticate, change_password
from verifier.clock import CHINA, as_utc, today_in_china
from verifier.lookup import group_code
from verifier.numbers import CertificateNumber, mask_id_number
from verifier.profiles import RulesProfile
from verifier.reading import YEAR_PART_LABELS
from verifier.requirements import shortfalls
from verifier.vocab import BUCKETS, CERT_STATE_LABELS

from ..db import read_session
from ..errors import EcertError
from ..models import Certificate, Project, TeacherAccount
from ..office import tasks
from ..pdf import cache as pdf_cache
from ..storage import storage_for
from . import limiter, signin, throttle
from .context import engine, profile, settings

bp = Blueprint("teacher", __name__, url_prefix="/teacher")


@bp.after_request
def _personal(response):
    """A teacher's pages and PDF are hers: no browser or proxy keeps a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def signed_in(view_fn):
    """The teacher of this session, whose password epoch still matches
    (a password change ends every other session)."""

    @functools.wraps(view_fn)
    def wrapper(*args, **kwargs):
        number, epoch = session.get("number"), session.get("epoch")
        if not number:
            return redirect(url_for("teacher.login"))
        with read_session(engine()) as s:
            try:
                holder = find_holder(s, number, profile())
            except EcertError:
                holder = None
            account = s.get(TeacherAccount, holder.teacher_id) if holder else None
        if account is None or account.epoch != epoch:
            session.clear()
            return redirect(url_for("teacher.login"))
        g.holder, g.account = holder, account
        if account.must_change and view_fn.__name__ != "password":
            return redirect(url_for("teacher.password"))
        return view_fn(*args, **kwargs)

    return wrapper


def _sign_in(s: Session, ref: str, password: str) -> tuple[str, int, bool]:
    holder, account = throttle.sign_in(
        "teacher",
        account_key(s, ref, profile()),
        password,
        lambda: authenticate(s, ref, password, profile()),
        REFUSED,
    )
    return holder.number, account.epoch, account.must_change


def _locked(s: Session, number: str) -> TeacherAccount | None:
    try:
        holder = find_holder(s, number, profile())
    except EcertError:
        return None
    return s.get(TeacherAccount, holder.teacher_id, with_for_update=True)


DOOR = signin.Door(
    name="teacher",
    id_key="number",
    epoch_key="epoch",
    field="account",
    field_max=40,
    sign_in=_sign_in,
    locked=_locked,
    change=lambda account, old, new: change_password(account, g.holder, old, new),
    throttle_kind="teacher",
    throttle_key=lambda: g.holder.number,
)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 60 per hour", methods=["POST"])
def login() -> ResponseReturnValue:
    return signin.login(DOOR)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    return signin.logout(DOOR)


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def password() -> ResponseReturnValue:
    return signin.change_password(DOOR)


@bp.get("/")
@signed_in
def home():
    p, h = profile(), g.holder
    with read_session(engine()) as s:
        today = today_in_china()
        sheet = sheet_for(s, h, p, today)
        versions = list(
            s.scalars(
                select(Certificate).where(Certificate.number == h.number).order_by(Certificate.version.desc())
            )
        )
        codes = {r.project_code for r in sheet.records}
        projects = (
            {c: n for c, n in s.execute(select(Project.code, Project.name).where(Project.code.in_(codes)))}
            if codes
            else {}
        )
    current = next((v for v in versions if v.state == "current"), None)
    rows, missing = _credit_rows(sheet, p)
    years = [_year_row(y, p, today.year) for y in sheet.years]
    return render_template(
        "teacher/home.html",
        holder=h,
        printed=CertificateNumber.parse(h.number).printed,
        id_masked=mask_id_number(h.id_number),
        sheet=sheet,
        profile=p,
        amount=amount,
        buckets=rows,
        missing=missing + [f"{y.year} 年度{y.short_text}" for y in years if f"year_{y.year}" in sheet.unmet],
        years=years,
        in_principle=p.yearly is not None and not p.yearly.disqualifying,
        projects=projects,
        versions=versions,
        state_labels=CERT_STATE_LABELS,
        current=current,
        check_code=group_code(current.check_code) if current else "",
        replaced=_replaced(versions, current),
    )


class CreditRow(NamedTuple):
    label: str
    credits: Decimal
    minimum: Decimal | None
    status: str | None  # met | offset | short, as verifier/reading.py has them; None: no minimum
    short: Decimal | None  # what a short row still lacks, after the offset

    @property
    def mark(self) -> str:
        """The status in words and a sign, so that it never rests on colour alone."""
        if self.status == "short":
            return f"✘ 差 {amount(self.short or Decimal(0))}"
        return {"met": "✔ 达标", "offset": "✔ 折抵后达标"}.get(self.status or "", "—")


def _credit_rows(sheet: CreditSheet, p: RulesProfile) -> tuple[list[CreditRow], list[str]]:
    """Each bucket against its minimum, and one line per requirement not
    met, with what it still lacks. The amounts are those the verifier's
    reading gives (the same `shortfalls`, offset included), so the teacher
    reads here what a review committee reads on her certificate."""
    _, short = shortfalls(sheet.buckets, sheet.minimums, p.offset)
    rows = []
    for b in BUCKETS:
        value, minimum = sheet.buckets[b], sheet.minimums.get(b)
        if minimum is None:
            status = None
        elif value >= minimum:
            status = "met"
        else:
            status = "short" if b in short else "offset"
        rows.append(CreditRow(p.bucket_label(b), value, minimum, status, short.get(b)))
    missing = [f"{p.bucket_label(b)}还差 {amount(v)} 学分" for b, v in short.items()]
    ind = sheet.induction
    if "induction" in sheet.unmet and ind is not None and p.induction is not None:
        missing.append(f"{p.bucket_label('induction')}还差 {amount(p.induction.credits - ind.credits)} 学分")
    return rows, missing


YEAR_STATUS = {
    "met": "✔ 达标",
    "short": "✘ 未达",
    "not-required": "不作要求",
    "not-yet": "进行中",
    "to-come": "尚未开始",  # not the engine's: a "not-yet" year after this one
}


class YearRow(NamedTuple):
    year: int
    amounts: dict[str, Decimal]
    status: str
    short: dict[str, Decimal]  # each yearly part short, with what it lacks

    @property
    def mark(self) -> str:
        return YEAR_STATUS.get(self.status, "")

    @property
    def short_text(self) -> str:
        # in the table's order (合计, 必修, 选修, 校本), not the buckets'
        parts = "、".join(
            f"{label}还差 {amount(self.short[k])}" for k, label in YEAR_PART_LABELS.items() if k in self.short
        )
        return f"{parts} 学分" if parts else "未达要求"


def _year_row(y: YearTally, p: RulesProfile, this_year: int) -> YearRow:
    """A year, with the amounts a short one lacks (the profile's yearly
    offset applied, as the engine judged it)."""
    short: dict[str, Decimal] = {}
    if y.status == "short" and p.yearly is not None:
        _, short = shortfalls(y.amounts, p.yearly.minimums, p.offset if p.yearly.offset else None)
    status = "to-come" if y.status == "not-yet" and y.year > this_year else y.status
    return YearRow(y.year, y.amounts, status, short)


def _replaced(versions: list, current) -> dict | None:
    """The newest version the current one replaced: a copy of it she may
    have printed or sent now reads "updated" when scanned."""
    older = next((v for v in versions if v.state == "superseded"), None)  # newest first
    if current is None or older is None:
        return None
    return {
        "version": older.version,
        "on": as_utc(older.changed_at).astimezone(CHINA).date().isoformat() if older.changed_at else "",
        "current": current.version,
    }


@bp.get("/certificate.pdf")
@signed_in
@limiter.limit("30 per minute")
def certificate_pdf():
    with read_session(engine()) as s:
        cert = s.scalars(
            select(Certificate).where(Certificate.number == g.holder.number, Certificate.state == "current")
        ).first()
    if cert is None:
        abort(404)
    data = _signed_pdf(cert)
    if data is None:
        return _pdf_pending()
    return send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"继续教育证书-{cert.number}-v{cert.version}.pdf",
    )


PDF_WAIT, PDF_POLL = 10.0, 0.1  # seconds: a warm worker renders and signs one in well under one


def _signed_pdf(cert) -> bytes | None:
    """The signed PDF from the cache in the service's store (the data folder,
    or the database every machine shares: issuer/storage.py); on a miss a
    worker, perhaps on another machine, renders and signs it (this process
    holds no private key) while the request waits a little."""
    st = settings()
    store = storage_for(st, engine())
    key = pdf_cache.document_key(engine(), st, profile().issuer_code)
    digest = pdf_cache.digest_for(st, key)
    cached = pdf_cache.cache_key(st, cert, cert.number, cert.state, digest)
    if (data := store.read(cached)) is not None:
        return data
    done = pdf_cache.rendered_key(store, st, cert, cert.number, cert.state, digest)
    if done is not None and (data := store.read(done)) is not None:  # a render batch made it already
        return data
    try:
        current_app.config.get("ECERT_PDF_DISPATCH", tasks.request_pdf)(cert.number)
    except Exception:  # the broker unreachable: the page says to retry, never a 500
        current_app.logger.exception("could not ask a worker for the PDF of %s", cert.number)
        return None
    deadline = time.monotonic() + PDF_WAIT
    while time.monotonic() < deadline:
        if (data := store.read(cached)) is not None:
            return data
        time.sleep(PDF_POLL)
    return None


def _pdf_pending():
    """The worker is busy or not running: say so, and try again shortly."""
    resp = current_app.make_response(
        (render_template("teacher/pdf_pending.html", retry=PDF_RETRY), 503, {"Retry-After": str(PDF_RETRY)})
    )
    return resp


PDF_RETRY = 5
