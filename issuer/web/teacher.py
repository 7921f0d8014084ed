"""The teacher's pages: sign in with the certificate number or ID number,
change the one-time code, see the credit sheet and the certificate's
versions, download the current PDF. Every page works on the signed-in
teacher alone: no teacher is ever named by the URL."""

from __future__ import annotations

import functools
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from sqlalchemy import select

from verifier.clock import CHINA, as_utc, today_in_china
from verifier.numbers import CertificateNumber, mask_id_number
from verifier.register import group_code
from verifier.verdict import STATE_LABELS
from verifier.vocab import BUCKET_LABELS, BUCKETS

from ..accounts import REFUSED, SignInError, account_key, authenticate, change_password
from ..credits.ledger import find_holder, sheet_for
from ..credits.sheet import amount
from ..db import read_session, write_session
from ..errors import EcertError
from ..models import Certificate, TeacherAccount
from ..passwords import end_sessions
from ..pdf.batch import render_key, style_digest, write_atomically
from ..pdf.document import view
from ..pdf.render import Renderer
from . import limiter, throttle
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


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 60 per hour", methods=["POST"])
def login():
    if request.method == "POST":
        ref, password = request.form.get("account", "").strip()[:40], request.form.get("password", "")[:200]
        with read_session(engine()) as s:
            try:
                holder, account = throttle.sign_in(
                    "teacher",
                    account_key(s, ref, profile()),
                    password,
                    lambda: authenticate(s, ref, password, profile()),
                    REFUSED,
                )
                epoch, must_change, refused = account.epoch, account.must_change, None
            except SignInError as e:
                refused = e
        if refused:
            flash(refused.message)
            return render_template("teacher/login.html", account=ref), 401
        session.clear()
        session.permanent = True
        session["number"], session["epoch"] = holder.number, epoch
        return redirect(url_for("teacher.password" if must_change else "teacher.home"))
    return render_template("teacher/login.html", account="")


@bp.post("/logout")
def logout():
    """Ends the session on the server too: the account's epoch moves on, so a
    copy of the cookie taken before is refused after (every session of hers ends)."""
    number, epoch = session.get("number"), session.get("epoch")
    if number:
        with write_session(engine()) as s:
            try:
                holder = find_holder(s, number, profile())
            except EcertError:
                holder = None
            account = s.get(TeacherAccount, holder.teacher_id, with_for_update=True) if holder else None
            if account is not None and account.epoch == epoch:
                end_sessions(account)
    session.clear()
    return redirect(url_for("teacher.login"))


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def password():
    if request.method == "POST":
        try:
            if request.form.get("new") != request.form.get("again"):
                raise EcertError("两次输入的新密码不一致", "the new passwords differ")
            with throttle.changing_password("teacher", g.holder.number), write_session(engine()) as s:
                account = s.get(TeacherAccount, g.holder.teacher_id, with_for_update=True)
                change_password(account, g.holder, request.form.get("old", ""), request.form.get("new", ""))
                epoch = account.epoch
        except EcertError as e:
            flash(e.message)
            return render_template("teacher/password.html", must=g.account.must_change), 400
        session["epoch"] = epoch
        flash("密码已修改")
        return redirect(url_for("teacher.home"))
    return render_template("teacher/password.html", must=g.account.must_change)


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
        buckets=[(BUCKET_LABELS[b], sheet.buckets[b], sheet.minimums.get(b)) for b in BUCKETS],
        versions=versions,
        state_labels=STATE_LABELS,
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
    path = _cached_pdf(cert)
    return send_file(
        path,
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"继续教育证书-{cert.number}-v{cert.version}.pdf",
    )


def _cached_pdf(cert) -> Path:
    """Rendered on first download, then served from the cache until what it
    says, the template or the fonts change."""
    st = settings()
    fonts = st.data_dir / "fonts"
    digest = current_app.extensions.get("ecert_style_digest")
    if digest is None:  # the fonts and template do not change under a running service
        digest = current_app.extensions["ecert_style_digest"] = style_digest(fonts)
    key = render_key(cert.token, cert.state, cert.check_code, cert.summary, st.base_url, digest)
    path = st.data_dir / "pdf-cache" / f"{cert.number}-{key[:20]}.pdf"
    if not path.is_file():
        renderer = current_app.extensions.get("ecert_renderer")
        if renderer is None:
            renderer = current_app.extensions["ecert_renderer"] = Renderer(fonts)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, renderer.render(view(cert, profile(), st.base_url)))
    return path
