"""The teacher's pages: sign in with the certificate number or ID number,
change the one-time code, see the credit sheet and the certificate's
versions, download the current PDF. Every page works on the signed-in
teacher alone: no teacher is ever named by the URL."""

from __future__ import annotations

import functools
import time
from pathlib import Path

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
from issuer.ledger.credits.sheet import amount
from issuer.office.accounts import REFUSED, account_key, authenticate, change_password
from verifier.clock import CHINA, as_utc, today_in_china
from verifier.lookup import group_code
from verifier.numbers import CertificateNumber, mask_id_number
from verifier.vocab import BUCKETS, CERT_STATE_LABELS

from ..db import read_session
from ..errors import EcertError
from ..models import Certificate, TeacherAccount
from ..office import tasks
from ..pdf import cache as pdf_cache
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
        sheet = sheet_for(s, h, p, today_in_china())
        versions = list(
            s.scalars(
                select(Certificate).where(Certificate.number == h.number).order_by(Certificate.version.desc())
            )
        )
    current = next((v for v in versions if v.state == "current"), None)
    return render_template(
        "teacher/home.html",
        holder=h,
        printed=CertificateNumber.parse(h.number).printed,
        id_masked=mask_id_number(h.id_number),
        sheet=sheet,
        profile=p,
        amount=amount,
        buckets=[(p.bucket_label(b), sheet.buckets[b], sheet.minimums.get(b)) for b in BUCKETS],
        versions=versions,
        state_labels=CERT_STATE_LABELS,
        current=current,
        check_code=group_code(current.check_code) if current else "",
        replaced=_replaced(versions, current),
    )


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
    path = _signed_pdf(cert)
    if path is None:
        return _pdf_pending()
    return send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"继续教育证书-{cert.number}-v{cert.version}.pdf",
    )


PDF_WAIT, PDF_POLL = 10.0, 0.1  # seconds: a warm worker renders and signs one in well under one


def _signed_pdf(cert) -> Path | None:
    """The signed PDF from the cache; on a miss a worker renders and signs
    it (this process holds no private key) while the request waits a little."""
    st = settings()
    key = pdf_cache.document_key(engine(), st, profile().issuer_code)
    digest = pdf_cache.digest_for(st, key)
    path = pdf_cache.cache_path(st, cert, cert.number, cert.state, digest)
    if path.is_file():
        return path
    done = pdf_cache.rendered_path(st, cert, cert.number, cert.state, digest)
    if done is not None:  # a render batch made it already
        return done
    try:
        current_app.config.get("ECERT_PDF_DISPATCH", tasks.request_pdf)(cert.number)
    except Exception:  # the broker unreachable: the page says to retry, never a 500
        current_app.logger.exception("could not ask a worker for the PDF of %s", cert.number)
        return None
    deadline = time.monotonic() + PDF_WAIT
    while time.monotonic() < deadline:
        if path.is_file():
            return path
        time.sleep(PDF_POLL)
    return None


def _pdf_pending():
    """The worker is busy or not running: say so, and try again shortly."""
    resp = current_app.make_response(
        (render_template("teacher/pdf_pending.html", retry=PDF_RETRY), 503, {"Retry-After": str(PDF_RETRY)})
    )
    return resp


PDF_RETRY = 5
