"""Background batches (批量任务): start an issuance or a rendering for the
region or one school, then watch it. The request only records the job and
queues it; Celery workers do the work (issuer/office/tasks.py, issuer/office/jobs.py). A
job's page reads the `jobs` table, so it survives a reload, another browser
or a restart of the web service, and refreshes itself (a meta refresh: the
CSP allows no inline script) while the job is queued or running. With no
worker's sign of life for a minute it says the job is stalled, and since
when (issuer/office/jobs.py describe).

Before signing, the issue form's preview lists who a run would issue,
reissue, leave unchanged or refuse, and why (Issuer.preview: no key, nothing
written), with a button that starts the real job. A render job that is done
offers its PDFs as one ZIP, streamed as it is made (issuer/office/zipstream.py)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from urllib.parse import quote

from flask import Response, abort, flash, g, jsonify, redirect, render_template, request, url_for

from issuer.certificates.issuance import ACTIONS, REVOKED, IssueOptions, Issuer
from issuer.certificates.keystore import Keystore
from issuer.office import jobs as jobs_lib
from issuer.office import queries, tasks, zipstream
from verifier.clock import today_in_china

from ...db import read_session
from ...errors import EcertError, InputRefused, NotFound
from ...models import School
from ...storage import storage_for
from . import NAV, bp, engine, profile, settings, staff_required

REFRESH_SECONDS = 2
LISTED = 500  # rows a page lists of one kind; the JSON has every one
# The issuance's reason for a revoked certificate names the command line; the
# page offers its own way instead, a reissue button beside each teacher.
REVOKED_HERE = "证书已撤销：批量签发不会重新签发它；如需重新签发，请对该教师单独“重新签发”"
ACTION_LABELS = {"issued": "将签发", "reissued": "将重新签发", "unchanged": "未变化", "refused": "将拒绝"}


@bp.get("/jobs")
@staff_required("issue")
def jobs():
    with read_session(engine()) as s:
        rows = jobs_lib.with_names(s, [jobs_lib.describe(j) for j in jobs_lib.recent(s, g.scope)])
        schools = queries.schools(s, g.scope)
    return render_template(
        "office/jobs.html",
        jobs=rows,
        schools=schools,
        kinds=jobs_lib.KINDS,
        embedded=tasks.embedded(),
        **_final_review(),
    )


def _final_review() -> dict:
    """What the form says of the final review: from when, and whether today is past it."""
    opens, today = profile().review_opens, today_in_china()
    return {"review_opens": opens, "today": today, "final_open": today >= opens}


def _issue_form() -> tuple[str | None, date | None]:
    """(school, final review day or None) from the issue form; a refusal
    goes back to the jobs page with its message."""
    school = request.form.get("school", "").strip()[:32] or None
    if request.form.get("final") != "1":
        return school, None
    text = request.form.get("final_on", "").strip()
    try:
        day = date.fromisoformat(text) if text else today_in_china()
    except ValueError:
        raise InputRefused(f"终审日期格式不正确：{text[:20]}", "final_on: YYYY-MM-DD") from None
    jobs_lib.check_final_review(profile(), day)
    return school, day


@bp.post("/jobs")
@staff_required("issue")
def job_start():
    kind = request.form.get("kind", "")
    if kind not in jobs_lib.KINDS:
        abort(400)
    try:
        school, final_on = _issue_form()
        job_id = jobs_lib.start(engine(), settings(), g.scope, kind, school, tasks.enqueue, final_on=final_on)
    except InputRefused as e:  # the final review's day or kind: said on the form's page
        flash(e.message)
        return redirect(url_for("office.jobs"))
    return redirect(url_for("office.job", job_id=job_id))


@bp.post("/jobs/preview")
@staff_required("issue")
def job_preview():
    """What an issue job with these choices would do now, teacher by teacher,
    signing and storing nothing (Issuer.preview, as `ecert issue --dry-run`).
    A POST: it computes every sheet in scope, so no other site may set a
    browser off on it (CSRF), and its choices stay out of the address."""
    if request.form.get("kind", "issue") != "issue":
        flash("预览只适用于签发证书；生成 PDF 不签名，可直接开始")
        return redirect(url_for("office.jobs"))
    try:
        school, final_on = _issue_form()
        with read_session(engine()) as s:
            school = queries.resolve_school(s, g.scope, school)
            row = s.get(School, school) if school else None
            school_name = row.name if row else None
        st = settings()
        issuer = Issuer(engine(), profile(), Keystore(st.keys_dir, g.scope.actor), st.base_url, g.scope.actor)
        preview = issuer.preview(IssueOptions(final=final_on is not None, as_of=final_on, school=school))
    except InputRefused as e:
        flash(e.message)
        return redirect(url_for("office.jobs"))
    groups = {
        action: {
            "teachers": [_planned(t) for t in preview.of(action)[:LISTED]],
            "reasons": Counter(_reason(t.reason) for t in preview.of(action)).most_common(),
        }
        for action in ACTIONS
    }
    return render_template(
        "office/jobs_preview.html",
        counts=preview.counts,
        total=len(preview.teachers),
        groups=groups,
        labels=ACTION_LABELS,
        listed=LISTED,
        school=school,
        school_name=school_name,
        final_on=final_on,
        as_of=final_on or today_in_china(),
    )


def _planned(t) -> dict:
    return {"number": t.number, "name": t.name, "school_name": t.school_name, "reason": _reason(t.reason)}


def _reason(text: str) -> str:
    return REVOKED_HERE if text == REVOKED[0] else text


@bp.get("/jobs/<int(max=9223372036854775807):job_id>")
@staff_required("issue")
def job(job_id: int):
    with read_session(engine()) as s:
        info = jobs_lib.with_names(s, [jobs_lib.describe(jobs_lib.get(s, g.scope, job_id))])[0]
        printing, print_problem = None, None
        if info["kind"] == "render" and info["state"] == "done":
            try:
                printing = jobs_lib.print_set(s, settings(), g.scope, job_id)
            except EcertError as e:  # no PDF-signing certificate, no fonts here: the page says so
                print_problem = e.message
        listed = info["refused"] if info["kind"] == "issue" else info["failed"]
        names = jobs_lib.holder_names(s, [r["number"] for r in listed[:LISTED]])
    for r in listed:
        r["name"] = names.get(r["number"], "")
        r["revoked"] = r["reason"] == REVOKED[0]
        r["reason"] = _reason(r["reason"])
    info["reasons"] = [(_reason(reason), n) for reason, n in info["reasons"]]
    running = info["state"] in ("queued", "running")
    return render_template(
        "office/jobs_detail.html",
        job=info,
        listed=listed,
        listed_max=LISTED,
        printing=printing,
        print_problem=print_problem,
        refresh=REFRESH_SECONDS if running else None,
        pdf_dir=jobs_lib.pdf_place(settings(), engine()),
        embedded=tasks.embedded(),
    )


@bp.get("/jobs/<int(max=9223372036854775807):job_id>.json")
@staff_required("issue")
def job_json(job_id: int):
    with read_session(engine()) as s:
        info = jobs_lib.describe(jobs_lib.get(s, g.scope, job_id))
    info.pop("reasons")
    return jsonify(info)


@bp.get("/jobs/<int(max=9223372036854775807):job_id>.zip")
@staff_required("issue")
def job_zip(job_id: int):
    """The render job's current PDFs as one ZIP, for printing: streamed
    entry by entry as it is written, so memory stays flat however many."""
    with read_session(engine()) as s:
        try:
            printing = jobs_lib.print_set(s, settings(), g.scope, job_id)
        except NotFound:  # outside the scope, or no render job that is done
            raise
        except EcertError:  # the job's page says why
            return redirect(url_for("office.job", job_id=job_id))
    if not printing.entries:
        abort(404)
    fallback = f"ecert-pdfs-job-{job_id}.zip"
    return Response(
        zipstream.stream(printing.entries, store=storage_for(settings(), engine())),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''"
            + quote(printing.filename),
        },
    )


NAV.append(("office.jobs", "批量任务", "issue"))
