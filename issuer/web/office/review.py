"""The auditor's queue: declared records by school (and, within a school,
by project), each with the credits the rules would give it; recognise or
reject (with a reason) a selection of one page, or every pending record of
the school or project at once after confirming the school's code, against
the count the page showed.

Selecting a whole page works without JavaScript (?select=page renders the
page with every box ticked); templates/static/office-review.js adds the
header checkbox and a running count of what is ticked."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from issuer.ledger.credits.sheet import amount
from issuer.office import review as review_lib
from verifier.vocab import GRADES, ROLES

from ...db import read_session, write_session
from ...errors import EcertError, NotFound
from ...models import School
from . import bp, engine, int_list, page_arg, profile, staff_required

PAGE = 200
DECISIONS = {"recognise": "recognised", "reject": "rejected"}


def _project_arg(values) -> str | None:
    return values.get("project", "").strip()[:64] or None


@bp.get("/review")
@staff_required("review")
def review_queue():
    school = request.args.get("school", "").strip()[:32] or None
    status = request.args.get("status", "declared")
    if status not in review_lib.STATUS_LABELS:
        abort(404)
    project = _project_arg(request.args)
    page = page_arg()
    selected = request.args.get("select") == "page"
    rows, total, projects, school_name = [], 0, [], None
    with read_session(engine()) as s:
        schools = review_lib.pending_by_school(s, g.scope)
        if school:
            if not g.scope.sees_school(school):
                abort(404)
            found = s.get(School, school)
            school_name = found.name if found else None
            projects = review_lib.projects_of(s, g.scope, school, status)
            rows = review_lib.records(
                s,
                profile(),
                g.scope,
                school=school,
                status=status,
                project=project,
                limit=PAGE,
                offset=page * PAGE,
            )
            total = review_lib.count(s, g.scope, school=school, status=status, project=project)
    return render_template(
        "office/review.html",
        schools=schools,
        school=school,
        school_name=school_name,
        projects=projects,
        project=project,
        rows=rows,
        total=total,
        status=status,
        page=page,
        page_size=PAGE,
        selected=selected,
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
    if action not in DECISIONS:
        abort(400)
    try:
        with write_session(engine()) as s:
            if action == "recognise":
                n = review_lib.recognise(s, g.scope, ids)
                flash(f"已认定 {n} 条记录")
            else:
                n = review_lib.reject(s, g.scope, ids, request.form.get("reason", ""))
                flash(f"已退回 {n} 条记录")
    except EcertError as e:  # records decided meanwhile (all or nothing), or no reason
        flash(e.message)
    return redirect(url_for("office.review_queue", school=school, project=_project_arg(request.form)))


@bp.post("/review/school/<code>")
@staff_required("review")
def review_school(code: str):
    """Every pending record of the school (of one project of it, when the
    queue was filtered) at once, after the school's code is typed; the form
    carries the count it showed (`expected`), and another count now refuses
    the decision rather than deciding records nobody looked at."""
    form = request.form
    action = form.get("action", "recognise")
    if action not in DECISIONS:
        abort(400)
    project = _project_arg(form)
    expected_text = form.get("expected", "").strip()
    if expected_text and (
        not expected_text.isascii() or not expected_text.isdigit() or len(expected_text) > 9
    ):
        abort(400)
    expected = int(expected_text) if expected_text else None
    back = redirect(url_for("office.review_queue", school=code, project=project))
    what = f"学校 {code}" + (f" 项目 {project}" if project else "") + " "
    if form.get("confirm", "").strip() != code:
        verb = "认定" if action == "recognise" else "退回"
        flash(f"请在确认框中输入学校代码 {code}，以{verb}{what}的全部待认定记录")
        return back
    try:
        with write_session(engine()) as s:
            n = review_lib.decide_all(
                s,
                g.scope,
                code,
                DECISIONS[action],
                expected=expected,
                reason=form.get("reason"),
                project=project,
            )
    except NotFound:
        raise  # another school, or none: the blueprint's 404
    except EcertError as e:  # the count changed, or a rejection without a reason
        flash(e.message)
        return back
    if action == "recognise":
        flash(f"已认定{what}的全部 {n} 条待认定记录")
    else:
        flash(f"已退回{what}的全部 {n} 条待认定记录")
    return back
