"""The administrator's accounts page: create an account, its one-time code
shown once; nobody else reaches the page."""

from __future__ import annotations

import re

from sqlalchemy import select

from issuer.db import read_session
from issuer.models import AuditEntry
from tests.helpers import SCHOOL_A, csrf, signed_in


def last_entry(region) -> AuditEntry:
    with read_session(region.engine) as s:
        return s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()


def test_the_admin_creates_an_account_and_the_code_shown_signs_in(app, region):
    admin = signed_in(app, region, "admin")
    page = admin.get("/office/accounts").get_data(as_text=True)
    assert all(u in page for u in ("admin", "auditor", "reg-a", "reg-b"))
    token = csrf(admin, "/office/accounts")
    r = admin.post(
        "/office/accounts",
        data={
            "csrf_token": token,
            "username": "Reg-C",
            "display_name": "教务处",
            "role": "registrar",
            "school": SCHOOL_A[0],
        },
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    code = re.search(r'<strong class="code">(\w+)</strong>', html).group(1)
    assert "已创建账号 reg-c" in html and code not in admin.get("/office/accounts").get_data(as_text=True)
    entry = last_entry(region)
    assert (entry.action, entry.subject, entry.actor) == ("staff-create", "reg-c", "staff:admin")

    region.codes["reg-c"] = code
    new = signed_in(app, region, "reg-c")  # the code signs in, and must be changed first
    assert new.get(f"/office/teachers?school={SCHOOL_A[0]}").status_code == 200
    assert new.get("/office/accounts").status_code == 404

    for bad, message in (
        ({"username": "reg-c", "role": "auditor"}, "已存在"),
        ({"username": "reg-d", "role": "registrar"}, "学校专管员须指定"),
        ({"username": "x", "role": "auditor"}, "不合规"),
    ):
        r = admin.post("/office/accounts", data={"csrf_token": token, **bad})
        assert r.status_code == 400 and message in r.get_data(as_text=True)
        assert '<strong class="code">' not in r.get_data(as_text=True)


def test_only_the_admin_reaches_the_accounts_page(app, region):
    for user in ("auditor", "reg-a"):
        c = signed_in(app, region, user)
        assert c.get("/office/accounts").status_code == 404
        r = c.post(
            "/office/accounts",
            data={"csrf_token": csrf(c, "/office/teachers"), "username": "sneaky", "role": "admin"},
        )
        assert r.status_code == 404
        assert "账号管理" not in c.get("/office/").get_data(as_text=True)
    assert "账号管理" in signed_in(app, region, "admin").get("/office/").get_data(as_text=True)


def test_the_admin_revokes_a_token_and_shuts_an_account_whose_sessions_end(app, region):
    from issuer.db import write_session
    from issuer.office import staff

    with write_session(region.engine) as s:
        token = staff.create_token(s, "reg-a", "学籍系统")
    registrar = signed_in(app, region, "reg-a")
    assert registrar.get("/office/").status_code == 200
    api = app.test_client()
    assert api.get("/api/v1/office/records", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    admin = signed_in(app, region, "admin")
    page = admin.get("/office/accounts").get_data(as_text=True)
    token_id = re.search(r'name="token" value="(\d+)"', page).group(1)
    assert "学籍系统（至" in page
    r = admin.post(
        "/office/accounts/reg-a/revoke-tokens",
        data={"csrf_token": csrf(admin, "/office/accounts"), "token": token_id},
    )
    assert r.status_code == 200 and "已作废 reg-a 的接口令牌 1 个" in r.get_data(as_text=True)
    assert api.get("/api/v1/office/records", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert last_entry(region).action == "staff-revoke-tokens"

    r = admin.post("/office/accounts/reg-a/disable", data={"csrf_token": csrf(admin, "/office/accounts")})
    assert r.status_code == 200 and "已停用" in r.get_data(as_text=True)
    assert registrar.get("/office/").status_code == 302  # her open session has ended
    assert last_entry(region).action == "staff-disable"
    r = admin.post("/office/accounts/reg-a/enable", data={"csrf_token": csrf(admin, "/office/accounts")})
    assert "已重新启用账号 reg-a" in r.get_data(as_text=True) and '<strong class="code">' in r.get_data(
        as_text=True
    )
    auditor = signed_in(app, region, "auditor")  # the page is the administrator's alone
    assert (
        auditor.post(
            "/office/accounts/reg-b/disable", data={"csrf_token": csrf(auditor, "/office/")}
        ).status_code
        == 404
    )


def test_staff_logout_ends_the_session_on_the_server_and_wrong_passwords_lock_nobody(app, region):
    c = signed_in(app, region, "auditor")
    stolen = c.get_cookie("session").value
    c.post("/office/logout", data={"csrf_token": csrf(c, "/office/")})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/office/").status_code == 302
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "10.6.6.6"
    for _ in range(5):
        attacker.post(
            "/office/login",
            data={"username": "admin", "password": "wrong", "csrf_token": csrf(attacker, "/office/login")},
        )
    r = attacker.post(
        "/office/login",
        data={
            "username": "admin",
            "password": region.codes["admin"],
            "csrf_token": csrf(attacker, "/office/login"),
        },
    )
    assert r.status_code == 401 and "连续输错多次后须稍候再试" in r.get_data(as_text=True)
    signed_in(app, region, "admin")  # from elsewhere the administrator signs in as ever
