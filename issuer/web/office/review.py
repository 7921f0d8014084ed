"""The auditor's queue: declared records by school, each with the credits
the rules would give it; recognise or reject (with a reason) a selection,
or recognise a whole school after confirming its code."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from issuer.ledger.credits.sheet import amount
from issuer.office import review as review_lib
from verifier.vocab import GRADES, ROLES

from ...db import read_session, write_session
from ...errors import EcertError, NotFound
from . import bp, engine, int_list, page_arg, profile, staff_required

PAGE = 200


@bp.get("/review")
@staff_required("review")
def review_queue():
    school = request.args.get("school", "").strip() or None
    status = request.args.get("status", "declared")
    if status not in review_lib.STATUS_LABELS:
        abort(404)
    page = page_arg()
    with read_session(engine()) as s:
        schools = review_lib.pending_by_school(s, g.scope)
        rows = (
            review_lib.records(
                s, profile(), g.scope, school=school, status=status, limit=PAGE, offset=page * PAGE
            )
            if school
            else []
        )
    return render_template(
        "office/review.html",
        schools=schools,
        school=school,
        rows=rows,
        status=status,
        page=page,
        page_size=PAGE,
        status_labels=review_lib.STATUS_LABELS,
        bucket_labels=profile().bucket_labels,
        grades=GRADES,
        roles=ROLES,
        amount=amount,
    )


@bp.post("/review/decide")
@staff_required("review")
def review_decide():
    ids, school = int_list(request.form.getlist("record")), request.form.get("school", "")
    action = request.form.get("action")
    try:
        with write_session(engine()) as s:
            if action == "recognise":
                n = review_lib.recognise(s, g.scope, ids)
                flash(f"已认定 {n} 条记录")
            elif action == "reject":
                n = review_lib.reject(s, g.scope, ids, request.form.get("reason", ""))
                flash(f"已退回 {n} 条记录")
            else:
                abort(400)
    except NotFound as e:
        flash(e.message)
    except EcertError as e:
        flash(e.message)
    return redirect(url_for("office.review_queue", school=school))


@bp.post("/review/school/<code>")
@staff_required("review")
def review_school(code: str):
    if request.form.get("confirm", "").strip() != code:
        flash(f"请在确认框中输入学校代码 {code}，以认定该校全部待认定记录")
        return redirect(url_for("office.review_queue", school=code))
    with write_session(engine()) as s:
        n = review_lib.recognise_school(s, g.scope, code)
    flash(f"已认定学校 {code} 的全部 {n} 条待认定记录")
    return redirect(url_for("office.review_queue", school=code))
