"""Revoke and reissue from the office, the audit log and its chain check,
and the administrator's accounts page."""

from __future__ import annotations

import json
import os
import re

import pytest
from sqlalchemy import select

from issuer.certificates import audit
from issuer.db import read_session
from issuer.models import AuditEntry
from tests.helpers import csrf, plan, progress, run, signed_in


@pytest.fixture
def app(issued_app):
    """The office app, made after the keys so its settings name their folder."""
    return issued_app


def show(region, number) -> dict:
    return json.loads(region.run("show", number, "--json").stdout)


def verify(region, url) -> dict:
    return json.loads(region.run("verify", url, "--json", check=False).stdout)


def flashed(client, response) -> str:
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"]).get_data(as_text=True)


def last_entry(region) -> AuditEntry:
    with read_session(region.engine) as s:
        return s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()


def test_revoke_needs_a_reason_is_audited_and_the_verifier_then_says_revoked(app, region, numbers, queued):
    number = numbers[region.a[0]]
    url = show(region, number)["url"]
    assert verify(region, url)["valid"]
    aud = signed_in(app, region, "auditor")
    page = f"/office/teachers/{number}"
    assert "撤销第 1 版证书" in aud.get(page).get_data(as_text=True)
    token = csrf(aud, page)

    assert aud.post(f"{page}/revoke", data={"reason": "材料造假"}).status_code == 400  # no CSRF token
    assert "撤销证书必须写明原因" in flashed(
        aud, aud.post(f"{page}/revoke", data={"csrf_token": token, "reason": "  \t "})
    )
    assert show(region, number)["status"] == "current"

    html = flashed(aud, aud.post(f"{page}/revoke", data={"csrf_token": token, "reason": "材料 造假"}))
    assert "第 1 版已撤销：材料 造假" in html and "已撤销" in html
    assert "撤销第 1 版证书" not in html  # nothing current left to revoke
    entry = last_entry(region)
    assert (entry.action, entry.subject, entry.actor) == ("revoke", number, "staff:auditor")
    assert json.loads(entry.detail) == {"version": 1, "reason": "材料 造假"}
    result = verify(region, url)
    status = next(c for c in result["checks"] if c["name"] == "status")
    assert result["valid"] is False and not status["ok"] and "材料 造假" in status["detail"]
    assert "revoked" in status["detail"]
    assert "没有现行版本" in flashed(
        aud, aud.post(f"{page}/revoke", data={"csrf_token": token, "reason": "再次"})
    )

    # reissue after the revocation, in the background worker: a new version under the same
    # number, valid again; the web request itself signs nothing
    passphrase = os.environ.pop("ECERT_KEY_PASSPHRASE")  # as `ecert serve` runs the web server
    r = aud.post(f"{page}/reissue", data={"csrf_token": token})
    os.environ["ECERT_KEY_PASSPHRASE"] = passphrase  # the worker's environment
    job_page = r.headers["Location"]
    assert r.status_code == 302 and job_page == f"/office/jobs/{queued[-1]}"
    assert show(region, number)["version"] == 1  # nothing signed yet
    counts = _work(region, aud, queued[-1])
    assert counts == {"issued": 0, "reissued": 1, "unchanged": 0, "refused": 0}
    html = aud.get(job_page).get_data(as_text=True)
    assert "签发一名教师的证书" in html and f'href="/office/teachers/{number}"' in html
    now = show(region, number)
    assert (now["version"], now["status"]) == (2, "current") and verify(region, now["url"])["valid"]
    entry = last_entry(region)
    assert (entry.action, entry.subject, entry.actor) == ("reissue", number, "staff:auditor")
    aud.post(f"{page}/reissue", data={"csrf_token": token})
    assert _work(region, aud, queued[-1])["unchanged"] == 1
    assert show(region, number)["version"] == 2


def _work(region, client, job_id: int) -> dict:
    """What the worker does with a queued job; its counts as the page reads them."""
    for index in plan(region, job_id):
        assert run(region, job_id, index) == "done"
    info = progress(client, job_id)
    assert info["state"] == "done", info["error"]
    return info["counts"]


def test_reissue_picks_up_newly_recognised_credits(app, region, numbers, queued):
    number = numbers[region.a[1]]
    region.run(
        "records",
        "import",
        str(region.records_file("more.csv", [[region.a[1], "X-PRO", "合格", "学员", "2025-06-01"]])),
    )
    admin = signed_in(app, region, "admin")
    admin.post(
        f"/office/teachers/{number}/reissue", data={"csrf_token": csrf(admin, f"/office/teachers/{number}")}
    )
    assert _work(region, admin, queued[-1])["reissued"] == 1
    assert "已被新版本取代" in admin.get(f"/office/teachers/{number}").get_data(as_text=True)
    assert show(region, number)["version"] == 2


def test_a_reissue_whose_worker_cannot_open_the_key_fails_the_job_and_says_why(
    app, region, numbers, queued, monkeypatch
):
    number = numbers[region.a[0]]
    aud = signed_in(app, region, "auditor")
    token = csrf(aud, f"/office/teachers/{number}")
    aud.post(f"/office/teachers/{number}/reissue", data={"csrf_token": token})
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", "not the passphrase at all")  # the worker's
    assert plan(region, queued[-1]) == []
    info = progress(aud, queued[-1])
    assert info["state"] == "failed" and "签名密钥口令不正确" in info["error"]
    assert show(region, number)["version"] == 1


def test_the_audit_log_is_newest_first_and_its_chain_verifies(app, region, numbers, monkeypatch):
    aud = signed_in(app, region, "auditor")
    html = aud.get("/office/audit").get_data(as_text=True)
    seqs = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', html)]
    with read_session(region.engine) as s:
        n = len(s.scalars(select(AuditEntry.seq)).all())
    assert n >= 4 and seqs == list(range(n, 0, -1))  # key-create and three issues, newest first
    assert "签发" in html and "生成密钥" in html
    r = aud.post("/office/audit/verify", data={"csrf_token": csrf(aud, "/office/audit")})
    assert r.status_code == 200
    assert "审计日志完整" in r.get_data(as_text=True) and f"{n} 条记录，哈希链无断裂" in r.get_data(
        as_text=True
    )

    monkeypatch.setattr(audit, "verify_chain", lambda s: audit.ChainReport(2, False, "entry 3 was altered"))
    html = aud.post("/office/audit/verify", data={"csrf_token": csrf(aud, "/office/audit")}).get_data(
        as_text=True
    )
    assert "哈希链断裂" in html and "entry 3 was altered" in html

    reg = signed_in(app, region, "reg-a")
    assert reg.get("/office/audit").status_code == 404
    assert (
        reg.post("/office/audit/verify", data={"csrf_token": csrf(reg, "/office/teachers")}).status_code
        == 404
    )
