"""Revoking a batch issued in error: by the issue job that signed it, or by
school and issue day; one reason, a confirmation that names how many and
asks for that number, then one audit entry per certificate. Administrators
and auditors only; nothing is revoked unless what is revoked is what was
confirmed."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from issuer.certificates import versions as register
from issuer.db import read_session, write_session
from issuer.errors import InputRefused
from issuer.models import AuditEntry, Job
from tests.builders import record_row
from tests.helpers import (
    SCHOOL_A,
    SCHOOL_B,
    csrf,
    newest_states,
    number_of,
    plan,
    revocations,
    run,
    signed_in,
    start,
)
from verifier.clock import today_in_china


def _work(region, job_id: int) -> None:
    for i in plan(region, job_id):
        assert run(region, job_id, i) == "done"


def _check(c, **form):
    return c.post("/office/revoke-batch/check", data={"csrf_token": csrf(c, "/office/revoke-batch"), **form})


def _confirm_form(page: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))


def test_revoke_what_an_issue_job_signed_after_confirming_how_many(app, region, keys, queued):
    aud = signed_in(app, region, "auditor")
    start(aud, "issue")
    _work(region, queued[0])
    a0, a1, b0 = (
        number_of(region, region.a[0]),
        number_of(region, region.a[1]),
        number_of(region, region.b[0]),
    )
    # since then, a0 has a new version from another job: the batch no longer stands there
    region.run("records", "import", str(region.records_file("more.csv", [record_row(region.a[0], "X-PRO")])))
    start(aud, "issue", SCHOOL_A[0])
    _work(region, queued[1])
    assert newest_states(region) == {a0: (2, "current"), a1: (1, "current"), b0: (1, "current")}

    job_page = aud.get(f"/office/jobs/{queued[0]}").get_data(as_text=True)
    assert f'href="/office/revoke-batch?job={queued[0]}"' in job_page
    form_page = aud.get(f"/office/revoke-batch?job={queued[0]}").get_data(as_text=True)
    assert re.search(rf'<option value="{queued[0]}" selected>', form_page)

    page = _check(aud, by="job", job=str(queued[0]), reason="  误用  测试数据 ").get_data(as_text=True)
    assert re.search(r'id="revoke-count">2<', page) and f"任务 #{queued[0]}" in page
    assert re.search(r'id="revoke-passed-over">1 份', page)  # a0's version 1 was superseded
    assert a1 in page and b0 in page and "李娜" in page and "张伟" in page and a0 not in page
    assert "误用 测试数据" in page
    form = _confirm_form(page)
    assert form["expected"] == "2" and form["job"] == str(queued[0])
    assert revocations(region) == []  # the check revokes nothing

    r = aud.post("/office/revoke-batch/confirm", data={**form, "confirm": "3"})
    assert r.status_code == 400 and "请输入将撤销的份数 2 以确认" in r.get_data(as_text=True)
    assert (
        aud.post("/office/revoke-batch/confirm", data={**form, "csrf_token": "", "confirm": "2"}).status_code
        == 400
    )
    assert revocations(region) == []

    r = aud.post("/office/revoke-batch/confirm", data={**form, "confirm": "2"})
    assert r.status_code == 302 and r.headers["Location"] == f"/office/jobs/{queued[0]}"
    assert "已撤销 2 份证书" in aud.get(r.headers["Location"]).get_data(as_text=True)
    assert newest_states(region) == {a0: (2, "current"), a1: (1, "revoked"), b0: (1, "revoked")}
    detail = {"version": 1, "reason": "误用 测试数据", "batch": {"job": queued[0]}, "actor": "staff:auditor"}
    assert revocations(region) == [(a1, detail), (b0, detail)]  # one entry per certificate
    region.run("audit", "verify")  # the chain holds
    shown = json.loads(region.run("show", b0, "--json").stdout)
    result = json.loads(region.run("verify", shown["url"], "--json", check=False).stdout)
    assert result["outcome"] == "revoked"

    # again: nothing left to revoke, and the page says so
    page = _check(aud, by="job", job=str(queued[0]), reason="再次").get_data(as_text=True)
    assert re.search(r'id="revoke-count">0<', page) and "没有可撤销的现行证书" in page
    assert "revoke-confirm" not in page


def test_revoke_a_schools_certificates_issued_on_a_day(app, region, keys, clock):
    region.run("issue")
    a0, a1, b0 = (
        number_of(region, region.a[0]),
        number_of(region, region.a[1]),
        number_of(region, region.b[0]),
    )
    admin = signed_in(app, region, "admin")  # administrators may too
    today = today_in_china()
    page = _check(
        admin, by="school", school=SCHOOL_A[0], day=(today - timedelta(days=1)).isoformat(), reason="x"
    )
    assert re.search(r'id="revoke-count">0<', page.get_data(as_text=True))
    page = _check(admin, by="school", school=SCHOOL_A[0], day=today.isoformat(), reason="导入错误").get_data(
        as_text=True
    )
    assert re.search(r'id="revoke-count">2<', page) and SCHOOL_A[1] in page and b0 not in page
    form = _confirm_form(page)
    assert (form["by"], form["school"], form["day"]) == ("school", SCHOOL_A[0], today.isoformat())
    r = admin.post("/office/revoke-batch/confirm", data={**form, "confirm": "2"})
    assert r.status_code == 302 and r.headers["Location"] == "/office/revoke-batch"
    assert newest_states(region) == {a0: (1, "revoked"), a1: (1, "revoked"), b0: (1, "current")}
    batch = {"school": SCHOOL_A[0], "issued_on": today.isoformat()}
    assert [(n, d["batch"], d["actor"]) for n, d in revocations(region)] == [
        (a0, batch, "staff:admin"),
        (a1, batch, "staff:admin"),
    ]

    # a day is China's: a certificate issued at 07:30 China time (23:30 UTC the day before) is that day's
    later = today + timedelta(days=3)
    clock.move_to(f"{later.isoformat()}T07:30:00+08:00")
    region.run("revoke", b0, "--reason", "单独撤销")
    region.run("issue", "--teacher", b0)  # version 2, early in the morning
    for day, n in ((later, 1), (later - timedelta(days=1), 0)):
        page = _check(admin, by="school", school=SCHOOL_B[0], day=day.isoformat(), reason="y")
        assert re.search(rf'id="revoke-count">{n}<', page.get_data(as_text=True)), day


def test_nothing_is_revoked_when_the_batch_changed_after_the_check(app, region, keys, queued):
    region.run("issue")
    a0, a1 = number_of(region, region.a[0]), number_of(region, region.a[1])
    aud = signed_in(app, region, "auditor")
    page = _check(aud, by="school", school=SCHOOL_A[0], day=today_in_china().isoformat(), reason="错发")
    form = _confirm_form(page.get_data(as_text=True))
    assert form["expected"] == "2"
    region.run("revoke", a0, "--reason", "另有人先撤销了一份")
    r = aud.post("/office/revoke-batch/confirm", data={**form, "confirm": "2"})
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "现在是 1 份，不是 2 份" in html and "没有撤销任何证书" in html
    assert re.search(r'id="revoke-count">1<', html)  # the page as it stands now, to confirm again
    assert newest_states(region)[a1] == (1, "current") and len(revocations(region)) == 1


def test_what_cannot_be_revoked_by_job_is_said_on_the_form(app, region, keys, queued):
    aud = signed_in(app, region, "auditor")
    start(aud, "render")
    start(aud, "issue")  # still queued
    start(aud, "issue")
    _work(region, queued[2])
    with write_session(region.engine) as s:  # as a job from before jobs kept what they signed
        job = s.get(Job, queued[2])
        job.result = json.dumps({k: v for k, v in json.loads(job.result).items() if k != "signed"})
    for job_id, said in (
        (queued[0], "不是签发证书的任务"),
        (queued[1], "尚未结束"),
        (queued[2], "请按学校和签发日期撤销"),
    ):
        r = _check(aud, by="job", job=str(job_id), reason="x")
        assert r.status_code == 302 and r.headers["Location"].startswith("/office/revoke-batch")
        assert said in aud.get(r.headers["Location"]).get_data(as_text=True), said
    for form, said in (
        ({"by": "job", "job": ""}, "请选择签发任务"),
        ({"by": "school", "school": SCHOOL_A[0], "day": "昨天"}, "请选择签发日期"),
        ({"by": "school", "school": "", "day": "2026-01-01"}, "请选择签发任务，或选择学校和签发日期"),
        ({"by": "job", "job": str(queued[2]), "reason": "  "}, "批量撤销必须写明原因"),
    ):
        r = _check(aud, **{"reason": "x", **form})
        assert r.status_code == 302 and said in aud.get(r.headers["Location"]).get_data(as_text=True), form
    assert _check(aud, by="job", job="99999", reason="x").status_code == 404
    assert _check(aud, by="school", school="9999999999", day="2026-01-01", reason="x").status_code == 404
    with read_session(region.engine) as s:
        assert (
            s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "revoke")) == 0
        )


def test_registrars_reach_no_batch_revocation(app, region, keys, queued):
    region.run("issue")
    aud = signed_in(app, region, "auditor")
    start(aud, "issue", SCHOOL_A[0])
    _work(region, queued[0])
    assert "批量撤销" in aud.get("/office/").get_data(as_text=True)
    reg = signed_in(app, region, "reg-a")
    token = csrf(reg, "/office/declare")
    form = {"csrf_token": token, "by": "school", "school": SCHOOL_A[0], "day": today_in_china().isoformat()}
    assert reg.get("/office/revoke-batch").status_code == 404
    assert reg.post("/office/revoke-batch/check", data={**form, "reason": "x"}).status_code == 404
    assert (
        reg.post(
            "/office/revoke-batch/confirm", data={**form, "reason": "x", "expected": "2", "confirm": "2"}
        ).status_code
        == 404
    )
    assert "批量撤销" not in reg.get("/office/").get_data(as_text=True)
    assert all(state == "current" for _, state in newest_states(region).values())


def test_the_library_revokes_a_batch_once_each_and_passes_over_what_moved_on(region, keys):
    region.run("issue")
    a0, a1, b0 = (
        number_of(region, region.a[0]),
        number_of(region, region.a[1]),
        number_of(region, region.b[0]),
    )
    region.run("records", "import", str(region.records_file("more.csv", [record_row(region.a[0], "X-PRO")])))
    region.run("issue", "--teacher", a0)  # a0 is at version 2: version 1 is no longer there to revoke
    with write_session(region.engine) as s:
        with pytest.raises(InputRefused):
            register.revoke_batch(s, [(a1, 1)], "  ", "测试员")
        done = register.revoke_batch(
            s, [(b0, 1), (a0, 1), (a1, 1), (a1, 1)], "批次错误", "测试员", {"job": 7}
        )
    assert done == [register.Revoked(a1, 1), register.Revoked(b0, 1)]
    assert newest_states(region) == {a0: (2, "current"), a1: (1, "revoked"), b0: (1, "revoked")}
    assert [(n, d) for n, d in revocations(region)] == [
        (n, {"version": 1, "reason": "批次错误", "batch": {"job": 7}, "actor": "测试员"}) for n in (a1, b0)
    ]
    with write_session(region.engine) as s:  # again: nothing current left of them
        assert register.revoke_batch(s, [(a1, 1), (b0, 1)], "再次", "测试员") == []
        assert [c.number for c in register.still_current(s, [(a0, 2), (a1, 1)])] == [a0]
    region.run("audit", "verify")
