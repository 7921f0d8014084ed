"""The records of the office: revoke or reissue one teacher's certificate
(each in the audit log) and the administrator's staff accounts. The audit
log's own pages are in audit.py."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from issuer.certificates import audit as audit_lib
from issuer.certificates import versions as register
from issuer.office import jobs as jobs_lib
from issuer.office import queries as q
from issuer.office import staff as staff_lib
from issuer.office import tasks

from ...db import read_session, write_session
from ...errors import EcertError, NotFound
from . import NAV, bp, engine, profile, settings, staff_required

MAX_REASON = 500

NAV.append(("office.accounts", "账号管理", "accounts"))


def _holder_or_404(number: str):
    """The teacher under `number`, if the signed-in scope reaches her."""
    with read_session(engine()) as s:
        try:
            return q.find_in_scope(s, profile(), g.scope, number)
        except NotFound:
            abort(404)


@bp.post("/teachers/<number>/revoke")
@staff_required("revoke")
def revoke(number: str):
    holder = _holder_or_404(number)
    reason = " ".join(request.form.get("reason", "").split())[:MAX_REASON]
    if not reason:
        flash("撤销证书必须写明原因")
        return redirect(url_for("office.teacher", number=holder.number))
    try:
        with write_session(engine()) as s:
            r = register.revoke(s, holder.number, reason, g.scope.actor)
        flash(f"证书 {holder.number} 第 {r.version} 版已撤销：{reason}")
    except EcertError as e:  # no certificate yet, or already revoked
        flash(e.message)
    return redirect(url_for("office.teacher", number=holder.number))


@bp.post("/teachers/<number>/reissue")
@staff_required("issue")
def reissue(number: str):
    """Sign this one teacher's certificate from today's sheet (also after a
    revocation), in the background worker that holds the signing key: the
    web process never has the key's passphrase. The job's page shows the
    outcome and leads back to her page."""
    holder = _holder_or_404(number)
    try:
        job_id = jobs_lib.start(
            engine(), settings(), g.scope, "issue", None, tasks.enqueue, teacher=holder.number
        )
    except EcertError as e:
        flash(e.message)
        return redirect(url_for("office.teacher", number=holder.number))
    flash(f"已交给后台签发（任务 #{job_id}）：完成后本页显示结果")
    return redirect(url_for("office.job", job_id=job_id))


# -- staff accounts --------------------------------------------------------------


@bp.route("/accounts", methods=["GET", "POST"])
@staff_required("accounts")
def accounts():
    created, status = None, 200
    if request.method == "POST":
        form = request.form
        role = form.get("role", "")
        school = (form.get("school", "").strip() or None) if role == "registrar" else None
        try:
            with write_session(engine()) as s:
                code = staff_lib.create_account(
                    s, form.get("username", "")[:64], form.get("display_name", ""), role, school
                )
                username = form.get("username", "").strip().lower()
                audit_lib.append(
                    s,
                    g.scope.actor,
                    [
                        audit_lib.Event(
                            "staff-create", username, {"role": role, **({"school": school} if school else {})}
                        )
                    ],
                )
            created = (username, code)
        except EcertError as e:
            flash(e.message)
            status = 400
    return _accounts_page(created, status, request.form if status != 200 else {})


def _accounts_page(created, status: int, form):
    with read_session(engine()) as s:
        rows = staff_lib.list_accounts(s)
        schools = q.schools(s, g.scope)
        tokens = staff_lib.tokens_of(s)
    response = render_template(
        "office/accounts.html",
        rows=rows,
        schools=schools,
        created=created,
        roles=staff_lib.ROLES,
        form=form,
        tokens=tokens,
    )
    return response, status, {"Cache-Control": "no-store"}


@bp.post("/accounts/<username>/<action>")
@staff_required("accounts")
def account_action(username: str, action: str):
    """Revoke an account's API tokens (one, or all), shut the account (its
    sessions and tokens end) or open it again with a new one-time code.
    Each is one audit-log entry."""
    if action not in ("revoke-tokens", "disable", "enable"):
        abort(404)
    created = None
    try:
        with write_session(engine()) as s:
            if staff_lib.find_account(s, username) is None:
                abort(404)
            if action == "revoke-tokens":
                token_id = request.form.get("token", "").strip()
                n = staff_lib.revoke_tokens(
                    s, username, token_id=int(token_id) if token_id.isdigit() else None
                )
                detail, said = {"tokens": n}, f"已作废 {username} 的接口令牌 {n} 个"
            elif action == "disable":
                n = staff_lib.disable(s, username)
                detail, said = {"tokens": n}, f"账号 {username} 已停用：登录会话已结束，作废接口令牌 {n} 个"
            else:
                created = (username, staff_lib.enable(s, username), "已重新启用账号")
                detail, said = {}, f"账号 {username} 已重新启用"
            audit_lib.append(s, g.scope.actor, [audit_lib.Event(f"staff-{action}", username, detail)])
    except EcertError as e:
        flash(e.message)
        return _accounts_page(None, 400, {})
    flash(said)
    return _accounts_page(created, 200, {})


from . import revoke_batch  # noqa: E402,F401  (its routes: revoking a batch issued in error)
