"""A registrar of school A who edits an URL to reach school B's objects gets
404, never 403, on every office route that names a school, a teacher, a
certificate or a record: the routes are read from the app itself, so a new
route is covered the day it is added."""

from __future__ import annotations

import re

import pytest

from issuer.db import write_session
from issuer.office import review
from tests.helpers import SCHOOL_A, SCHOOL_B, csrf, scope_of, signed_in

# Pages that name nothing of a school's: signing in and out, one's own password, the start page.
NO_OBJECT = {"office.login", "office.logout", "office.password", "office.home"}


@pytest.fixture
def app(issued_app):
    """The office app with every certificate issued."""
    return issued_app


def _declared_record_of_b(region) -> int:
    with write_session(region.engine) as s:
        return review.declare_one(
            s,
            scope_of(region.engine, "reg-b"),
            {
                "id_number": region.b[0],
                "project_code": "X-PRO",
                "grade": "合格",
                "role": "学员",
                "completed_on": "2025-05-04",
            },
        )


def _requests(flask_app, school, number, record):
    """Every office route but NO_OBJECT and declare, each method, with its
    path arguments and a `school` (query and form) naming the given objects."""
    values = {"code": school, "school": school, "school_code": school, "number": number}
    for rule in flask_app.url_map.iter_rules():
        if not rule.rule.startswith("/office/") or rule.endpoint in NO_OBJECT | {"office.declare"}:
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = re.sub(rf"<(?:\w+(?:\([^)]*\))?:)?{arg}>", values.get(arg, str(record)), path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, f"{path}?school={school}"


def _send(client, method, url, token, school, record):
    if method == "GET":
        r = client.get(url)
    else:
        r = client.open(
            url,
            method=method,
            data={
                "csrf_token": token,
                "school": school,
                "record": str(record),
                "confirm": school,
                "reason": "越权测试",
                "action": "recognise",
            },
        )
    r.get_data()
    r.close()
    return r


def test_a_registrar_naming_another_schools_objects_gets_404_on_every_route(app, region, numbers):
    record = _declared_record_of_b(region)
    b_number, a_number = numbers[region.b[0]], numbers[region.a[0]]
    reg = signed_in(app, region, "reg-a")
    token = csrf(reg, "/office/declare")
    checked = set()
    for endpoint, method, url in _requests(app, SCHOOL_B[0], b_number, record):
        r = _send(reg, method, url, token, SCHOOL_B[0], record)
        assert r.status_code == 404, (endpoint, method, url, r.status_code)
        checked.add(endpoint)
    assert {
        "office.teachers",
        "office.teachers_xlsx",
        "office.teacher",
        "office.teacher_xlsx",
        "office.revoke",
        "office.reissue",
        "office.review_queue",
        "office.review_decide",
        "office.review_school",
    } <= checked
    # A school that does not exist looks the same as one that is not hers.
    assert reg.get("/office/teachers?school=9999999999").status_code == 404
    assert reg.get("/office/teachers?school=all").status_code == 404  # "every school" is not hers either
    assert _send(reg, "GET", "/office/teachers.xlsx?school=all", token, "all", record).status_code == 404
    assert reg.get("/office/teachers/654004071000999X").status_code == 404

    # The objects exist: her own school's answer, and school B's registrar and the auditor reach B's.
    for url in (
        f"/office/teachers?school={SCHOOL_A[0]}",
        f"/office/teachers/{a_number}",
        f"/office/teachers/{a_number}.xlsx",
        f"/office/teachers.xlsx?school={SCHOOL_A[0]}",
    ):
        assert _send(reg, "GET", url, token, SCHOOL_A[0], record).status_code == 200, url
    others = {user: signed_in(app, region, user) for user in ("reg-b", "auditor")}
    for user, other in others.items():
        for url in (
            f"/office/teachers?school={SCHOOL_B[0]}",
            f"/office/teachers/{b_number}",
            f"/office/teachers/{b_number}.xlsx",
            f"/office/teachers.xlsx?school={SCHOOL_B[0]}",
        ):
            assert _send(other, "GET", url, token, SCHOOL_B[0], record).status_code == 200, (user, url)
    aud = others["auditor"]
    aud_token = csrf(aud, "/office/review")
    assert "张伟" in aud.get(f"/office/review?school={SCHOOL_B[0]}").get_data(as_text=True)
    # harmless POSTs that reach B's objects for the auditor: no reason, an unchanged reissue, a wrong code
    for path, data in (
        (f"/office/teachers/{b_number}/revoke", {}),
        (f"/office/teachers/{b_number}/reissue", {}),
        (f"/office/review/school/{SCHOOL_B[0]}", {"confirm": "no"}),
    ):
        assert aud.post(path, data={"csrf_token": aud_token, **data}).status_code == 302, path


def test_declare_names_no_other_school_for_a_registrar(app, region, numbers):
    """Naming school B on the declare page is a 404 for registrar A; on her
    own page, B's teacher is simply not in her roster."""
    reg = signed_in(app, region, "reg-a")
    assert reg.get(f"/office/declare?school={SCHOOL_B[0]}").status_code == 404
    form = {
        "csrf_token": csrf(reg, "/office/declare"),
        "id_number": region.b[0],
        "project_code": "X-PRO",
        "grade": "合格",
        "role": "学员",
        "completed_on": "2025-05-04",
    }
    assert reg.post(f"/office/declare?school={SCHOOL_B[0]}", data=form).status_code == 404
    r = reg.post("/office/declare", data=form)
    assert r.status_code == 400 and "不在本校教师名册中" in r.get_data(as_text=True)
    assert "张伟" not in r.get_data(as_text=True)
