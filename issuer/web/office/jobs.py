"""Background batches (批量任务): start an issuance or a rendering for the
region or one school, then watch it. The request only records the job and
queues it; Celery workers do the work (issuer/office/tasks.py, issuer/office/jobs.py). A
job's page reads the `jobs` table, so it survives a reload, another browser
or a restart of the web service, and refreshes itself (a meta refresh: the
CSP allows no inline script) while the job is queued or running. With no
worker's sign of life for a minute it says the job is stalled, and since
when (issuer/office/jobs.py describe)."""

from __future__ import annotations

from flask import abort, g, jsonify, redirect, render_template, request, url_for

from issuer.office import jobs as jobs_lib
from issuer.office import queries, tasks

from ...db import read_session
from . import NAV, bp, engine, settings, staff_required

REFRESH_SECONDS = 2


@bp.get("/jobs")
@staff_required("issue")
def jobs():
    with read_session(engine()) as s:
        rows = [jobs_lib.describe(j) for j in jobs_lib.recent(s, g.scope)]
        schools = queries.schools(s, g.scope)
    return render_template(
        "office/jobs.html", jobs=rows, schools=schools, kinds=jobs_lib.KINDS, embedded=tasks.embedded()
    )


@bp.post("/jobs")
@staff_required("issue")
def job_start():
    kind, school = request.form.get("kind", ""), request.form.get("school", "").strip() or None
    if kind not in jobs_lib.KINDS:
        abort(400)
    job_id = jobs_lib.start(engine(), settings(), g.scope, kind, school, tasks.enqueue)
    return redirect(url_for("office.job", job_id=job_id))


@bp.get("/jobs/<int(max=9223372036854775807):job_id>")
@staff_required("issue")
def job(job_id: int):
    info = _job(job_id)
    running = info["state"] in ("queued", "running")
    return render_template(
        "office/jobs_detail.html",
        job=info,
        refresh=REFRESH_SECONDS if running else None,
        pdf_dir=jobs_lib.pdf_dir(settings()),
        embedded=tasks.embedded(),
    )


@bp.get("/jobs/<int(max=9223372036854775807):job_id>.json")
@staff_required("issue")
def job_json(job_id: int):
    info = _job(job_id)
    info.pop("reasons")
    return jsonify(info)


def _job(job_id: int) -> dict:
    with read_session(engine()) as s:
        return jobs_lib.describe(jobs_lib.get(s, g.scope, job_id))


NAV.append(("office.jobs", "批量任务", "issue"))
