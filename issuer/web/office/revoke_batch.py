"""Revoking a batch issued in error (批量撤销): choose the batch (an issue
job, or a school and an issue day) and write one reason; a confirmation
page then names how many certificates, lists them, and asks for that number
to be typed; only then are they revoked, in one transaction, one audit
entry each (issuer/office/revocations.py, issuer/certificates/versions.py).
Administrators and auditors only, as a single revocation."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, g, redirect, render_template, request, url_for

from issuer.office import jobs as jobs_lib
from issuer.office import queries as q
from issuer.office import revocations

from ...db import read_session, write_session
from ...errors import InputRefused
from . import NAV, bp, engine, profile, staff_required

MAX_REASON = 500  # as a single revocation's
LISTED = 500  # certificates the confirmation lists; it always says how many in all
FIELDS = ("by", "job", "school", "day", "reason")  # what goes back to the form after a refusal


def _choice(form) -> revocations.Choice:
    """A batch from the form (or the job page's link): by job, or by school
    and issue day. A malformed value is said on the form's page."""
    if form.get("by", "job" if form.get("job") else "school") == "job":
        text = form.get("job", "").strip().lstrip("#")
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise InputRefused("请选择签发任务", "job: a job number")
        return revocations.Choice(job=int(text))
    text = form.get("day", "").strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputRefused("请选择签发日期", "day: YYYY-MM-DD") from None
    return revocations.Choice(school=form.get("school", "").strip()[:32] or None, day=day)


def _reason(form) -> str:
    return " ".join(form.get("reason", "").split())[:MAX_REASON]


@bp.get("/revoke-batch")
@staff_required("revoke")
def revoke_batch():
    """The form: which batch, and why. `?job=N` (the job page's link) chooses that job."""
    with read_session(engine()) as s:
        schools = q.schools(s, g.scope)
        jobs = [
            j
            for j in jobs_lib.with_names(s, [jobs_lib.describe(j) for j in jobs_lib.recent(s, g.scope)])
            if j["kind"] == "issue" and not j["teacher"] and j["state"] in ("done", "failed")
        ]
    return render_template("office/revoke_batch.html", schools=schools, jobs=jobs, form=request.args)


@bp.post("/revoke-batch/check")
@staff_required("revoke")
def revoke_batch_check():
    """The confirmation: how many certificates, which, and the reason; nothing revoked yet."""
    return _confirmation(request.form)


def _confirmation(form, problem: str | None = None, status: int = 200):
    try:
        choice, reason = _choice(form), _reason(form)
        if not reason:
            raise InputRefused("批量撤销必须写明原因", "a revocation needs a reason")
        with read_session(engine()) as s:
            batch = revocations.choose(s, profile(), g.scope, choice)
            shown = batch.certificates[:LISTED]
            names = jobs_lib.holder_names(s, [c.number for c in shown])
    except InputRefused as e:
        flash(e.message)
        back = {k: form.get(k) for k in FIELDS if form.get(k)}
        return redirect(url_for("office.revoke_batch", **back))
    rows = [(c.number, names.get(c.number, ""), c.version, c.issued_at) for c in shown]
    page = render_template(
        "office/revoke_batch_confirm.html",
        batch=batch,
        rows=rows,
        listed=LISTED,
        reason=reason,
        problem=problem,
    )
    return page, status


@bp.post("/revoke-batch/confirm")
@staff_required("revoke")
def revoke_batch_confirm():
    """Revoke, if the number typed is the number the confirmation showed
    and the batch still holds exactly that many: in one transaction, all
    or nothing."""
    form = request.form
    expected = form.get("expected", "")
    if not expected.isascii() or not expected.isdigit() or len(expected) > 9:
        abort(400)
    if form.get("confirm", "").strip() != expected:
        return _confirmation(form, f"请输入将撤销的份数 {expected} 以确认", 400)
    try:
        choice, reason = _choice(form), _reason(form)
        with write_session(engine()) as s:
            done = revocations.revoke(s, profile(), g.scope, choice, reason, int(expected))
    except revocations.Changed as e:
        problem = f"核对之后证书有变化：现在是 {e.now} 份，不是 {expected} 份。没有撤销任何证书，请重新核对。"
        return _confirmation(form, problem, 409)
    except InputRefused as e:
        flash(e.message)
        return redirect(url_for("office.revoke_batch"))
    flash(f"已撤销 {len(done)} 份证书，原因：{reason}（每份一条审计日志）")
    if choice.job is not None:
        return redirect(url_for("office.job", job_id=choice.job))
    return redirect(url_for("office.revoke_batch"))


NAV.append(("office.revoke_batch", "批量撤销", "revoke"))
