"""A certificate's versions, and revocation."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from issuer.certificates import versions as register
from issuer.db import read_session, write_session
from issuer.errors import InputRefused, NotFound
from issuer.models import Registration, Teacher
from issuer.office import staff
from issuer.web.context import engine, settings
from issuer.web.office_api import bp
from issuer.web.office_api.auth import scope_for
from issuer.web.office_api.bodies import (
    compact_number,
    json_object,
    reason_in,
)
from issuer.web.office_api.errors import ApiError


def _certificate_not_found() -> NotFound:
    return NotFound("查无此证书", "no certificate with this number in this account's scope")


def _certificate_in_scope(s, scope: staff.Scope, compact: str) -> None:
    school = s.scalar(
        select(Teacher.school_code)
        .join(Registration, Registration.teacher_id == Teacher.id)
        .where(Registration.number == compact)
    )
    if school is None or not scope.sees_school(school):
        raise _certificate_not_found()


@bp.get("/certificates/<number>")
def certificate(number: str):
    """The current (or newest) version, as `ecert show --json --history`."""
    scope = scope_for("query")
    compact = compact_number(number)
    with read_session(engine()) as s:
        _certificate_in_scope(s, scope, compact)
        try:
            versions = register.history(s, compact)
        except NotFound:
            raise _certificate_not_found() from None
    cert = next((v for v in versions if v.state == "current"), versions[-1])
    data = register.show_json(cert, settings().base_url)
    data["history"] = register.history_json(versions)
    return jsonify(data)


@bp.post("/certificates/<number>/revoke")
def revoke_certificate(number: str):
    scope = scope_for("revoke")
    compact = compact_number(number)
    reason = reason_in(json_object())
    with write_session(engine()) as s:
        _certificate_in_scope(s, scope, compact)
        try:
            done = register.revoke(s, compact, reason, scope.actor)
        except NotFound:
            raise _certificate_not_found() from None
        except InputRefused as e:  # the reason and number were checked: no current version is left
            raise ApiError(409, e.message, e.detail) from None
    return jsonify({"number": done.number, "version": done.version, "status": "revoked", "reason": reason})
