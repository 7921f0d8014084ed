"""The teacher's sign-in and download, as a browser would use them: real
CSRF tokens, real cookies, one-time codes from `ecert passwords issue`."""

from __future__ import annotations

import csv
import io
import re

import pytest
from pypdf import PdfReader

from issuer.config import load_settings
from issuer.web import create_app, limiter
from tests.helpers import render_pdfs_inline
from verifier.inputs import TOKEN_ATTACHMENT

A, B = "6540040710000014", "6540040710000022"


@pytest.fixture
def codes(keyed, bureau, tmp_path):
    keyed("issue")
    out = tmp_path / "codes.csv"
    keyed("passwords", "issue", "-o", str(out))
    with out.open(encoding="utf-8-sig") as f:
        return {row["证书编号"]: row["一次性登录码"] for row in csv.DictReader(f)}


@pytest.fixture
def app(codes):
    app = create_app(load_settings())
    render_pdfs_inline(app)
    limiter.reset()  # the limiter's memory is per process: each test starts afresh
    yield app
    app.extensions["ecert_verifier"].close()
    app.extensions["ecert_engine"].dispose()


def csrf(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, account, password):
    return client.post(
        "/teacher/login",
        data={"account": account, "password": password, "csrf_token": csrf(client, "/teacher/login")},
    )


def fetch(client, path):
    """GET, read, close: a file response holds its file open until closed."""
    r = client.get(path)
    r.get_data()
    r.close()
    return r


def change(client, new, again=None, **old):
    return client.post(
        "/teacher/password",
        data={"new": new, "again": again or new, "csrf_token": csrf(client, "/teacher/password"), **old},
    )


def first_sign_in(client, number, code, new="我的新密码-2026"):
    """The one-time code, then the forced change, which asks only for the
    new password: the sign-in has just proven the code."""
    assert sign_in(client, number, code).headers["Location"].endswith("/teacher/password")
    r = change(client, new)
    assert r.status_code == 302, r.get_data(as_text=True)
    return new


def test_codes_file_is_private_and_holds_one_code_each(codes, tmp_path):
    assert set(codes) == {A, B, "6540040710000030"} and len(set(codes.values())) == 3
    assert (tmp_path / "codes.csv").stat().st_mode & 0o777 == 0o600


def test_first_sign_in_forces_a_new_password_then_shows_the_sheet_and_pdf(app, codes):
    c = app.test_client()
    first_sign_in(c, A, codes[A])
    home = c.get("/teacher/").get_data(as_text=True)
    assert "热依拉·阿不都热合曼" in home and "654004-07-1-000001-4" in home and "已达到本周期要求" in home
    r = fetch(c, "/teacher/certificate.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    url = PdfReader(io.BytesIO(r.data)).attachments[TOKEN_ATTACHMENT][0].decode()
    assert "/V/" in url
    assert fetch(c, "/teacher/certificate.pdf").data == r.data  # served from the cache
    assert b"/ByteRange" in r.data and b"/ETSI.CAdES.detached" in r.data  # signed by the worker


def test_a_pdf_a_render_batch_made_is_served_without_asking_a_worker(app, codes, keyed):
    from issuer.config import load_settings

    rendered = load_settings().data_dir / "pdfs"
    keyed("render", "--out", str(rendered))  # as the first run's background job writes them

    def no_worker(number):
        raise AssertionError("the render batch's PDF should have been served")

    app.config["ECERT_PDF_DISPATCH"] = no_worker
    c = app.test_client()
    first_sign_in(c, A, codes[A])
    r = fetch(c, "/teacher/certificate.pdf")
    assert r.status_code == 200 and r.data == (rendered / f"{A}.pdf").read_bytes()


def test_without_a_worker_the_pdf_page_says_it_is_being_made_never_a_500(app, codes):
    def broker_down(number):
        raise ConnectionError("broker unreachable")

    app.config["ECERT_PDF_DISPATCH"] = broker_down
    c = app.test_client()
    first_sign_in(c, A, codes[A])
    r = fetch(c, "/teacher/certificate.pdf")
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert "证书 PDF 正在生成" in r.get_data(as_text=True)


def test_the_home_page_says_when_a_newer_version_replaced_the_one_she_may_have_printed(
    app, codes, keyed, bureau, files
):
    from tests.builders import RECORD_HEADER, record_row

    c = app.test_client()
    first_sign_in(c, B, codes[B])
    home = c.get("/teacher/").get_data(as_text=True)
    assert 'id="replaced"' not in home
    code = re.search(r'查验码 <strong class="nowrap">([0-9A-Z ]+)</strong>', home).group(1)
    assert re.fullmatch(r"[0-9A-Z]{4} [0-9A-Z]{4} [0-9A-Z]{4}", code)  # in groups of four, as printed
    keyed("records", "import", str(files.csv("more.csv", RECORD_HEADER, [record_row(bureau[1], "X-PRO")])))
    keyed("issue")
    home = c.get("/teacher/").get_data(as_text=True)
    replaced = re.search(r'<p class="notice" id="replaced">(.*?)</p>', home, re.S).group(1)
    assert re.match(r"第 1 版已于 \d{4}-\d\d-\d\d 被现行第 2 版取代", replaced) and "已更新" in replaced


def test_her_pages_and_pdf_are_not_kept_by_a_browser(app, codes):
    c = app.test_client()
    first_sign_in(c, A, codes[A])
    for path in ("/teacher/", "/teacher/certificate.pdf", "/teacher/password"):
        assert fetch(c, path).headers["Cache-Control"] == "no-store", path


def test_a_revoked_teacher_reads_when_and_why(app, codes, keyed):
    c = app.test_client()
    first_sign_in(c, B, codes[B])
    keyed("revoke", B, "--reason", "材料待核实")
    revoked = re.search(
        r'<p class="notice" id="revoked">(.*?)</p>', c.get("/teacher/").get_data(as_text=True), re.S
    )
    assert revoked and re.match(r"第 1 版证书已于 \d{4}-\d\d-\d\d 撤销：材料待核实", revoked.group(1))


def test_a_teacher_never_reaches_another_teachers_sheet_or_pdf(app, codes):
    c = app.test_client()
    first_sign_in(c, A, codes[A])
    own = fetch(c, "/teacher/certificate.pdf").data
    for path in (
        f"/teacher/certificate.pdf?number={B}",
        f"/teacher/?number={B}",
        f"/teacher/{B}",
        f"/teacher/certificate.pdf/{B}",
    ):
        r = fetch(c, path)
        if r.mimetype == "application/pdf":
            assert r.data == own
        else:
            assert B not in r.get_data(as_text=True) and "王芳" not in r.get_data(as_text=True)
    # the session cookie cannot be edited into B's: it is signed
    cookie = c.get_cookie("session")
    c.set_cookie("session", cookie.value.replace(cookie.value[5:9], "AAAA"))
    assert c.get("/teacher/").headers["Location"].endswith("/teacher/login")


def _flash(response) -> str:
    return re.search(r'<p class="flash">(.*?)</p>', response.get_data(as_text=True)).group(1)


def test_wrong_passwords_throttle_that_client_for_that_teacher_and_lock_out_nobody(app, codes):
    attacker, teacher = app.test_client(), app.test_client()
    attacker.environ_base["REMOTE_ADDR"], teacher.environ_base["REMOTE_ADDR"] = "10.9.9.9", "10.1.1.1"
    for ref in (A, "654004198503121012"):  # her certificate number, then her ID number: one account
        for _ in range(3 if ref == A else 2):
            assert sign_in(attacker, ref, "wrong-password").status_code == 401
    throttled = sign_in(attacker, A, codes[A])  # even the right code, from that client, now
    assert throttled.status_code == 401
    # and it reads exactly as a wrong password or an unknown account does
    assert _flash(throttled) == _flash(sign_in(app.test_client(), "6540040710009991", "x"))
    assert sign_in(teacher, A, codes[A]).status_code == 302  # the teacher, elsewhere, signs in


def test_unknown_account_and_wrong_password_look_the_same(app, codes):
    c = app.test_client()
    a = _flash(sign_in(c, "6540040710009991", "x"))
    b = _flash(sign_in(c, A, "x"))
    assert a == b and "证书编号/身份证号或密码不正确" in a


def test_wrong_current_passwords_count_like_sign_ins(app, codes):
    c = app.test_client()
    new = first_sign_in(c, A, codes[A])
    for _ in range(5):
        r = c.post(
            "/teacher/password",
            data={
                "old": "wrong-password",
                "new": "另一个新密码-2027",
                "again": "另一个新密码-2027",
                "csrf_token": csrf(c, "/teacher/password"),
            },
        )
        assert r.status_code == 400 and "原密码不正确" in r.get_data(as_text=True)
    r = c.post(
        "/teacher/password",
        data={
            "old": new,
            "new": "另一个新密码-2027",
            "again": "另一个新密码-2027",
            "csrf_token": csrf(c, "/teacher/password"),
        },
    )
    assert r.status_code == 400 and "稍候再试" in r.get_data(as_text=True)


def test_logout_ends_the_session_on_the_server(app, codes):
    c = app.test_client()
    first_sign_in(c, A, codes[A])
    stolen = c.get_cookie("session").value  # a copy taken before logging out
    c.post("/teacher/logout", data={"csrf_token": csrf(c, "/teacher/")})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/teacher/").status_code == 302  # back to the sign-in page


def test_common_passwords_and_her_own_numbers_are_refused(app, codes):
    c = app.test_client()
    assert sign_in(c, A, codes[A]).status_code == 302
    for new, why in (
        ("password123", "常见"),
        ("1qaz2wsx3edc", "常见"),
        ("x6540040710000014", "证书编号"),
        ("654004198503121012", "证书编号"),
        ("abc19850312xyz", "证书编号"),
    ):
        r = c.post(
            "/teacher/password",
            data={"old": codes[A], "new": new, "again": new, "csrf_token": csrf(c, "/teacher/password")},
        )
        assert r.status_code == 400 and why in r.get_data(as_text=True), new


def test_sign_in_is_rate_limited_per_client(app, codes):
    c = app.test_client()
    statuses = [sign_in(c, "6540040710009991", "x").status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429


def test_forms_need_the_csrf_token(app, codes):
    c = app.test_client()
    r = c.post("/teacher/login", data={"account": A, "password": codes[A]})
    assert r.status_code == 400


def test_a_password_change_ends_other_sessions(app, codes):
    one, two = app.test_client(), app.test_client()
    new = first_sign_in(one, A, codes[A])
    assert sign_in(two, A, new).status_code == 302
    assert two.get("/teacher/").status_code == 200
    newer = "另一个新密码-2027"
    one.post(
        "/teacher/password",
        data={"old": new, "new": newer, "again": newer, "csrf_token": csrf(one, "/teacher/password")},
    )
    assert two.get("/teacher/").headers["Location"].endswith("/teacher/login")
    assert one.get("/teacher/").status_code == 200


def test_weak_or_mismatched_new_passwords_are_refused(app, codes):
    c = app.test_client()
    sign_in(c, A, codes[A])
    for new, again in (
        ("short", "short"),
        ("一个足够长的新密码", "另一个足够长的新密码"),
        (codes[A], codes[A]),
    ):
        r = c.post(
            "/teacher/password",
            data={"old": codes[A], "new": new, "again": again, "csrf_token": csrf(c, "/teacher/password")},
        )
        assert r.status_code == 400
    assert c.get("/teacher/").headers["Location"].endswith("/teacher/password")  # still must change


def test_security_headers_and_cookie_flags(app, codes):
    c = app.test_client()
    r = sign_in(c, A, codes[A])
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    h = c.get("/teacher/login").headers
    assert (
        "frame-ancestors 'none'" in h["Content-Security-Policy"]
        and "unsafe-inline" not in h["Content-Security-Policy"]
    )
    assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "no-referrer"


def test_the_forced_change_does_not_ask_again_for_the_code_just_typed(app, codes):
    c = app.test_client()
    sign_in(c, A, codes[A])
    page = c.get("/teacher/password").get_data(as_text=True)
    assert 'name="old"' not in page and "您已用一次性登录码登录" in page
    r = change(c, "我的新密码-2026", old="whatever was typed is not what counts")
    assert r.status_code == 302 and r.headers["Location"].endswith("/teacher/")
    # the proof was for that change alone: the next one asks for the password again
    page = c.get("/teacher/password").get_data(as_text=True)
    assert 'name="old"' in page and "一次性登录码登录" not in page
    r = change(c, "另一个新密码-2027")
    assert r.status_code == 400 and "原密码不正确" in r.get_data(as_text=True)
    assert change(c, "另一个新密码-2027", old="我的新密码-2026").status_code == 302


def test_a_refused_new_password_leaves_the_forced_change_open_without_the_code(app, codes):
    c = app.test_client()
    sign_in(c, A, codes[A])
    assert change(c, "short").status_code == 400
    r = change(c, codes[A])  # the code itself, which she no longer needs to type
    assert r.status_code == 400 and "不能与原密码相同" in r.get_data(as_text=True)
    assert 'name="old"' not in r.get_data(as_text=True)
    assert change(c, "我的新密码-2026").status_code == 302


def test_after_a_few_minutes_the_forced_change_asks_for_the_code_again(app, codes, monkeypatch):
    from issuer.web import signin

    monkeypatch.setattr(signin, "PROVEN_FOR", -1)  # the proof expired as soon as it was made
    c = app.test_client()
    sign_in(c, A, codes[A])
    page = c.get("/teacher/password").get_data(as_text=True)
    assert 'name="old"' in page and "首次登录须把一次性登录码改为您自己的密码" in page
    r = change(c, "我的新密码-2026")
    assert r.status_code == 400 and "原密码不正确" in r.get_data(as_text=True)
    assert change(c, "我的新密码-2026", old=codes[A]).status_code == 302


def test_a_sign_in_with_her_own_password_proves_nothing(app, codes):
    c = app.test_client()
    new = first_sign_in(c, A, codes[A])
    assert sign_in(c, A, new).headers["Location"].endswith("/teacher/")
    assert 'name="old"' in c.get("/teacher/password").get_data(as_text=True)


def test_staff_share_the_door_their_forced_change_takes_no_code_either(region):
    from issuer.config import load_settings
    from tests.helpers import NEW_PASSWORD

    app = create_app(load_settings())
    limiter.reset()
    try:
        c = app.test_client()
        r = c.post(
            "/office/login",
            data={
                "username": "auditor",
                "password": region.codes["auditor"],
                "csrf_token": csrf(c, "/office/login"),
            },
        )
        assert r.headers["Location"].endswith("/office/password")
        r = c.post(
            "/office/password",
            data={"new": NEW_PASSWORD, "again": NEW_PASSWORD, "csrf_token": csrf(c, "/office/password")},
        )
        assert r.status_code == 302 and "工作台" in c.get("/office/").get_data(as_text=True)
    finally:
        app.extensions["ecert_verifier"].close()
        app.extensions["ecert_engine"].dispose()


def test_the_home_page_says_what_is_missing_with_amounts_and_marks_short_rows(app, codes):
    c = app.test_client()
    first_sign_in(c, B, codes[B])  # 10 elective credits, nothing else
    home = c.get("/teacher/").get_data(as_text=True)
    missing = re.findall(
        r"<li>(.*?)</li>", re.search(r'<ul class="missing" id="missing"[^>]*>(.*?)</ul>', home, re.S).group(1)
    )
    assert missing[:2] == ["州级及以上·公共课还差 5.00 学分", "州级及以上·专业课还差 15.00 学分"], missing
    assert "总学分还差 80.00 学分" in missing and not any("选修" in m for m in missing)  # 选修 is met
    credits = re.search(r'<table id="credits">(.*?)</table>', home, re.S).group(1)
    short = re.search(r'<tr class="short"><td>州级及以上·公共课</td>(.*?)</tr>', credits).group(1)
    assert '<td class="st">✘ 差 5.00</td>' in short  # a sign and words, not colour alone
    assert re.search(r'<tr class="met"><td>选修</td>.*?<td class="st">✔ 达标</td>', credits)
    # each record names its project beside the code, in the table and in the phone's list
    assert 'X-ELE 培训 <small class="code">X-ELE</small>' in home
    card = re.search(r'<ul id="record-list" class="record-list">\s*<li>(.*?)</li>', home, re.S).group(1)
    assert re.fullmatch(
        r'<span class="when">\d{4}-\d\d-\d\d · X-ELE</span><span class="num credits">10.00 学分</span>'
        r'<span class="what">X-ELE 培训</span>',
        card,
    ), card


def test_a_teacher_who_meets_every_minimum_reads_nothing_missing(app, codes):
    c = app.test_client()
    first_sign_in(c, A, codes[A])
    home = c.get("/teacher/").get_data(as_text=True)
    assert 'id="missing"' not in home and "✔ 已达到本周期要求" in home
    assert '<tr class="short">' not in re.search(r'<table id="credits">(.*?)</table>', home, re.S).group(1)
