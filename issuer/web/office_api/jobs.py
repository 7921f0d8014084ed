"""Background issue and render jobs, the audit chain's check, and the OpenAPI document."""

from __future__ import annotations

from flask import jsonify

from issuer.certificates import audit
from issuer.db import read_session
from issuer.errors import NotFound
from issuer.office import jobs as jobs_lib
from issuer.office import staff, tasks
from issuer.web.context import engine, settings
from issuer.web.office_api import PREFIX, bp
from issuer.web.office_api.auth import scope_for
from issuer.web.office_api.bodies import (
    MAX_ID,
    int_arg,
    json_object,
)
from issuer.web.office_api.errors import bad


@bp.post("/jobs")
def start_job():
    """Queue an issuance or rendering for the region or one school; the
    work runs in the background (issuer/office/jobs.py, issuer/office/tasks.py)."""
    scope = scope_for("issue")
    body = json_object()
    kind, school = body.get("kind"), body.get("school")
    if not isinstance(kind, str) or kind not in jobs_lib.KINDS:
        raise bad(
            f"kind 须为 {'、'.join(jobs_lib.KINDS)} 之一", f"kind must be one of {', '.join(jobs_lib.KINDS)}"
        )
    if school is not None and not isinstance(school, str):
        raise bad("school 须为学校代码字符串", '"school" must be a string')
    job_id = jobs_lib.start(
        engine(), settings(), scope, kind, (school or "").strip()[:32] or None, tasks.enqueue
    )
    resp = jsonify(_job(scope, job_id))
    resp.status_code = 202
    resp.headers["Location"] = f"{PREFIX}/jobs/{job_id}"
    return resp


@bp.get("/jobs")
def list_jobs():
    scope = scope_for("issue")
    limit = int_arg("limit", 50, 1, 200)
    with read_session(engine()) as s:
        rows = [_job_json(j) for j in jobs_lib.recent(s, scope, limit)]
    return jsonify({"jobs": rows})


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    scope = scope_for("issue")
    if job_id > MAX_ID:
        raise NotFound("没有这个任务", f"no job {job_id} in this account's scope")
    return jsonify(_job(scope, job_id))


def _job(scope: staff.Scope, job_id: int) -> dict:
    with read_session(engine()) as s:
        return _job_json(jobs_lib.get(s, scope, job_id))


def _job_json(job) -> dict:
    info = jobs_lib.describe(job)
    info.pop("reasons", None)  # the listed (number, reason) pairs say it all
    return info


@bp.get("/audit/verify")
def audit_verify():
    scope_for("audit")
    with read_session(engine()) as s:
        report = audit.verify_chain(s)
    return jsonify({"ok": report.ok, "entries": report.entries, "problem": report.problem or None})


@bp.get("/openapi.json")
def openapi():
    from issuer.web.office_openapi import OPENAPI

    return jsonify(OPENAPI)
