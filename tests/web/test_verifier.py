"""The public verifier, pages and API, as a phone and another system use
them; hostile input included. Runs on the full service's app (the verifier
mounted) and, for independence, the verifier alone."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile

import pytest

from issuer.config import load_settings
from issuer.web import create_app
from tests.helpers import active_kid, forge, show
from verifier.web import limiter

A, B, C = "6540040710000014", "6540040710000022", "6540040710000030"
FULL_ID = re.compile(r"(?<![\d*])\d{17}[\dX](?!\d)")


@pytest.fixture
def service(keyed, bureau):
    keyed("issue")
    keyed("revoke", C, "--reason", "重复登记")
    app = create_app(load_settings(), KEYS_TTL=0)
    limiter.reset()
    yield app, keyed
    app.extensions["ecert_verifier"].close()
    app.extensions["ecert_engine"].dispose()


def path_of(url: str) -> str:
    return url[url.index("/V/") :]


def page(client, path, status=200):
    r = client.get(path)
    assert r.status_code in ((status,) if isinstance(status, int) else status), r.get_data(as_text=True)[:500]
    text = r.get_data(as_text=True)
    assert not FULL_ID.search(text)
    return text


def test_the_landing_page_says_genuine_and_shows_what_it_certifies(service):
    app, run = service
    c = app.test_client()
    url = show(run, A)["url"]
    for p in (path_of(url), path_of(url).lower().replace("/v/", "/v/"), "/v/" + url.split("/V/")[1].lower()):
        html = page(c, p)
        assert "✔ 证书真实有效" in html and "热依拉·阿不都热合曼" in html
        assert "654004-07-1-000001-4" in html and "90.00" in html and "霍尔果斯市教育局" in html
        assert html.count("✔") >= 7  # the banner and six checks
        banner = re.search(r'id="verdict">(.*?)</section>', html, re.S).group(1)
        assert "结论：周期进行中 · 总学分 90.00 · 已达 11/11 项要求" in banner
        years = re.search(r'<table id="years">(.*?)</table>', html, re.S).group(1)
        notes = re.findall(
            r'<tr class="[^"]*"><td>(20\d\d)</td><td[^>]*>[\d.]+</td><td>([^<]+)</td></tr>', years
        )
        assert [y for y, _ in notes] == ["2024", "2025", "2026", "2027", "2028"]
        # the register's sheet, as the PDF prints it: 2024 had nothing, 2025 all 90 credits
        assert notes[:2] == [("2024", "未达：必修、选修、校本、合计"), ("2025", "达标")], notes
        assert {n for _, n in notes[2:]} == {"签发时未结束"}, notes
        credits = re.search(r'<table id="credits">(.*?)</table>', html, re.S).group(1)
        assert credits.count('<td class="st">达标</td>') == 11
        assert "年度原则要求：总学分 18.00" in html


def test_a_tampered_token_says_not_valid_with_the_reason_first(service):
    app, run = service
    token = show(run, A)["token"]
    tampered = token[:100] + ("A" if token[100] != "A" else "B") + token[101:]
    html = page(app.test_client(), "/V/" + tampered, status=(200, 400))  # 400 if it no longer decodes
    assert "✘ 证书无效" in html
    verdict = re.search(r'id="verdict">(.*?)</section>', html, re.S).group(1)
    assert "签名" in verdict or "解码" in verdict
    assert "热依拉" not in html  # nothing an unsigned token says is shown as if true


def test_revoked_and_expired_say_why(service):
    app, run = service
    c = app.test_client()
    assert "证书已被撤销" in re.search(
        r'id="verdict">(.*?)</section>', page(c, path_of(show(run, C)["url"])), re.S
    ).group(1)
    html = page(c, path_of(show(run, A)["url"]) + "?at=2029-01-01")
    assert "证书已过有效期" in html


def _banner(html: str) -> str:
    return re.sub(r"</?span[^>]*>", "", re.search(r'id="verdict">(.*?)</section>', html, re.S).group(1))


def test_an_updated_certificate_reads_genuine_and_updated_with_the_current_summary(service, bureau, files):
    from tests.builders import RECORD_HEADER, record_row

    app, run = service
    old = show(run, B)
    run("records", "import", str(files.csv("more.csv", RECORD_HEADER, [record_row(bureau[1], "X-PRO")])))
    run("issue")
    html = page(app.test_client(), path_of(old["url"]))
    banner = _banner(html)
    assert 'class="banner updated"' in html and "证书无效" not in html
    assert "证书真实，已更新" in banner and "此为第 1 版" in banner and "更新为第 2 版" in banner
    assert "现行第 2 版：结论 周期进行中 · 总学分 30.00 · 有效期至 2028-12-31" in banner
    assert 'id="current-lookup"' in html  # the 查验码 opens the current version in full
    # the checks that ran and passed are not drawn as failures; the status check says updated
    assert "已更新" in re.search(r'<table class="checks">(.*?)</table>', html, re.S).group(1)


def test_a_token_minted_with_a_leaked_key_is_not_valid_on_the_page_and_in_the_api(service, tmp_path):
    from verifier.token import from_base32, parse

    app, run = service
    genuine = show(run, A)["token"]
    forged = forge(tmp_path / "keys", active_kid(run), genuine, parse(from_base32(genuine)).claims.issued_at)
    html = page(app.test_client(), "/V/" + forged)
    assert 'class="banner no"' in html and "✘ 证书无效" in _banner(html)
    assert "不是登记系统签发的" in _banner(html) and "证书真实有效" not in html
    assert "未能得到登记系统证实" in html  # what it claims is not presented as certified
    assert 'id="credits"' not in html and "达标" not in html  # nor its tripled credits read as met
    r = app.test_client().get(f"/api/v1/verify?token={forged}")
    assert r.json["outcome"] == "not_valid" and "not issued by the register" in r.json["checks"][3]["detail"]
    assert r.json["reading"] is None


def test_the_front_door_leads_to_the_verifier_the_teachers_and_the_office(service):
    app, _ = service
    html = page(app.test_client(), "/")
    for where, href in (("证书查验", "/verify"), ("教师登录", "/teacher/login"), ("工作台", "/office/")):
        assert where in html and f'href="{href}"' in html, where


def test_revoked_banner_gives_the_date_and_reason(service):
    app, run = service
    html = page(app.test_client(), path_of(show(run, C)["url"]))
    assert 'class="banner no"' in html
    assert re.search(r"证书已撤销.*证书已被撤销（\d{4}-\d\d-\d\d：重复登记）", _banner(html), re.S)


def test_expired_reads_genuine_and_past_its_validity(service):
    app, run = service
    html = page(app.test_client(), path_of(show(run, A)["url"]) + "?at=2029-01-01")
    assert 'class="banner expired"' in html and "证书真实，已过有效期" in _banner(html)
    assert "有效期至 2028-12-31" in _banner(html)


def test_checks_that_did_not_run_are_neutral_and_the_detail_is_folded(service):
    app, run = service
    token = show(run, A)["token"]
    tampered = token[:100] + ("A" if token[100] != "A" else "B") + token[101:]
    html = page(app.test_client(), "/V/" + tampered, status=(200, 400))
    checks = re.search(r'<table class="checks">(.*?)</table>', html, re.S).group(1)
    assert checks.count('class="skip"') >= 3 and "未检查" in checks
    assert '<details class="tech">' in html and "not run" not in checks  # the English is folded away


def test_the_check_code_is_read_forgivingly_and_shows_the_birth_date(service):
    app, run = service
    code = show(run, A)["check_code"]
    typed = " ".join([code[:4], code[4:8], code[8:]]).lower().replace("0", "o").replace("1", "i")
    html = page(
        app.test_client(), "/verify?" + __import__("urllib.parse").parse.urlencode({"no": A, "code": typed})
    )
    assert "✔ 证书真实有效" in html
    assert "出生日期 <strong>1985-03-12</strong> · 请与申报人身份证核对" in html
    dashed = f"{code[:4]}-{code[4:8]}-{code[8:]}"
    assert "✔ 证书真实有效" in page(app.test_client(), f"/verify?no={A}&code={dashed}")


def test_a_wrong_code_keeps_what_was_typed(service):
    app, run = service
    r = app.test_client().get(f"/verify?no={A}&code=abcd efgh jkl&at=2027-01-05")
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and 'value="abcd efgh jkl"' in html and 'value="2027-01-05"' in html
    assert "查验码应为 12 位（已读作 ABCD EFGH JKL，共 11 位）" in html and "出生日期" not in html
    wrong = app.test_client().get(f"/verify?no={A}&code=ABCDEFGHJKLM").get_data(as_text=True)
    assert "查验码不正确（已读作 ABCD EFGH JKLM，共 12 位）" in wrong
    code = show(run, A)["check_code"]
    dashed = f"{code[:4]}\u2014{code[4:8]}_{code[8:]}"  # an input method's dash, an underscore
    assert "✔ 证书真实有效" in page(
        app.test_client(), "/verify?" + __import__("urllib.parse").parse.urlencode({"no": A, "code": dashed})
    )


def test_the_api_never_shows_the_birth_date(service):
    app, run = service
    r = app.test_client().get(f"/api/v1/verify?token={show(run, A)['token']}")
    assert "1985-03-12" not in r.get_data(as_text=True) and "19850312" not in r.get_data(as_text=True)


def test_lookup_by_number_alone_shows_status_and_a_masked_surname_only(service):
    app, run = service
    html = page(app.test_client(), "/verify?no=654004-07-1-000001-4")
    assert "现行有效" in html and "热＊" in html and "热依拉" not in html
    assert "2028-12-31" in html and "**" not in html  # no ID digits, masked or not
    assert "已撤销" in page(app.test_client(), f"/verify?no={C}")


def test_lookup_with_the_check_code_shows_everything(service):
    app, run = service
    code = show(run, A)["check_code"]
    html = page(app.test_client(), f"/verify?no={A}&code={code.lower()}")
    assert "✔ 证书真实有效" in html and "热依拉·阿不都热合曼" in html


def test_wrong_codes_are_logged_and_rate_limited(service, caplog):
    app, _ = service
    c = app.test_client()
    statuses = [c.get(f"/verify?no={A}&code=WRONGCODE{i:03d}").status_code for i in range(31)]
    assert statuses[:30] == [403] * 30 and statuses[30] == 429
    over = c.get(f"/verify?no={A}&code=WRONGCODE999&at=2027-01-05")
    assert over.status_code == 429 and "查验过于频繁" in over.get_data(
        as_text=True
    )  # in Chinese, not Flask's
    assert 'value="2027-01-05"' in over.get_data(as_text=True)
    assert any("wrong 查验码" in r.getMessage() and A in r.getMessage() for r in caplog.records)


def test_bad_numbers_are_refused_before_any_lookup(service):
    app, _ = service
    assert "校验位" in page(app.test_client(), "/verify?no=6540040710000015", status=400)
    assert "查无此证书" in page(app.test_client(), "/verify?no=6540040710009991", status=404)
    c = app.test_client()
    for odd in ("\u0666540040710000014", "\u00b2540040710001236"):  # isdigit(), yet not our digits
        assert c.get(f"/api/v1/status/{odd}").status_code == 400
        assert c.get("/verify", query_string={"no": odd}).status_code == 400
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in A)  # A typed in a full-width input mode
    assert c.get(f"/api/v1/status/{full_width}").get_json()["number"] == A


def test_upload_a_pdf_and_hostile_uploads(service, tmp_path):
    app, run = service
    c = app.test_client()
    run("pdf", A, "-o", str(tmp_path / "a.pdf"))
    ok = c.post(
        "/verify/upload",
        data={"file": (io.BytesIO((tmp_path / "a.pdf").read_bytes()), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 200 and "✔ 证书真实有效" in ok.get_data(as_text=True)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.txt", b"\0" * 50_000_000)
    for name, data in (
        ("bomb.zip", bomb.getvalue()),
        ("fake.pdf", b"%PDF-1.7\n\x00garbage"),
        ("x.png", b"\x89PNG\r\n\x1a\nnot really"),
    ):
        r = c.post(
            "/verify/upload", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
        )
        assert r.status_code == 400 and "✘ 证书无效" in r.get_data(as_text=True)
    # refused on its Content-Length, before a byte is read
    big = c.post("/api/v1/verify", data=b"%PDF-" + b"A" * (13 * 2**20), content_type="application/pdf")
    assert big.status_code == 413 and big.json["valid"] is False


def test_api_verify_get_and_post(service, tmp_path):
    app, run = service
    c = app.test_client()
    cert = show(run, A)
    r = c.get(f"/api/v1/verify?token={cert['token']}&at=2027-06-01")
    assert r.status_code == 200 and r.json["valid"] is True
    assert list(r.json) == ["valid", "outcome", "checks", "certificate", "current", "reading"]
    assert r.json["outcome"] == "valid" and r.json["reading"]["source"] == "register"
    assert [ch["name"] for ch in r.json["checks"]] == [
        "format",
        "signature",
        "key",
        "status",
        "validity",
        "credits",
    ]
    assert c.post("/api/v1/verify", json={"url": cert["url"].lower()}).json["valid"] is True
    run("pdf", A, "-o", str(tmp_path / "a.pdf"))
    pdf = (tmp_path / "a.pdf").read_bytes()
    assert c.post("/api/v1/verify", data=pdf, content_type="application/pdf").json["valid"] is True
    r = c.post(
        "/api/v1/verify", data={"file": (io.BytesIO(pdf), "a.pdf")}, content_type="multipart/form-data"
    )
    assert r.json["valid"] is True
    revoked = c.get(f"/api/v1/verify?token={show(run, C)['token']}")
    assert revoked.status_code == 200 and revoked.json["valid"] is False
    assert revoked.json["checks"][3]["ok"] is False and revoked.json["outcome"] == "revoked"


@pytest.mark.parametrize(
    "query",
    [
        "token=" + "A" * 20_000,
        "token=证书",
        "token=%00%01",
        "token=/etc/passwd",
        "token=../../etc/passwd",
        "token=http://evil.example/v/../../etc/passwd",
        "token=",
        "token=AAAA&at=2029-13-45",
    ],
)
def test_api_malformed_input_is_a_400_with_the_same_shape(service, query):
    app, _ = service
    r = app.test_client().get(f"/api/v1/verify?{query}")
    assert r.status_code == 400 and r.json["valid"] is False and r.json["checks"][0]["name"] == "format"
    assert len(r.json["checks"]) == 6 and "root:" not in r.get_data(as_text=True)


def test_api_wrong_content_types_and_bodies(service):
    c = service[0].test_client()
    assert c.post("/api/v1/verify", data="x", content_type="application/xml").status_code == 415
    assert c.post("/api/v1/verify", data="{not json", content_type="application/json").status_code == 400
    assert c.post("/api/v1/verify", json=["a"]).status_code == 400
    assert c.post("/api/v1/verify", data=b"%PDF-1.4 nope", content_type="application/pdf").status_code == 400


def test_a_break_byte_in_the_header_and_json_nested_too_deep_are_400s_not_500s(service):
    import cbor2

    from verifier.token import to_base32

    app, run = service
    c = app.test_client()
    raw = cbor2.dumps(cbor2.CBORTag(18, [b"\xa2\x01\x27\x04\xff", {}, b"\xa0", b"\x00" * 64]))
    token = to_base32(raw)
    api = c.get(f"/api/v1/verify?token={token}")
    assert api.status_code == 400 and api.json["outcome"] == "not_valid" and not api.json["checks"][0]["ok"]
    assert c.get(f"/V/{token}").status_code == 400
    cli = run("verify", token, check=False)
    assert cli.returncode == 4 and "Traceback" not in cli.stdout + cli.stderr
    deep = c.post("/api/v1/verify", data="[" * 100_000, content_type="application/json")
    assert deep.status_code == 400 and deep.json["valid"] is False


def test_path_tricks_on_the_landing_page(service):
    c = service[0].test_client()
    for p in ("/v/../../etc/passwd", "/v/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/V/" + "A" * 9000, "/v/证书"):
        r = c.get(p)
        assert r.status_code in (400, 404) and "root:" not in r.get_data(as_text=True)


def test_keys_profiles_status_and_openapi(service):
    app, run = service
    c = app.test_client()
    keys = c.get("/.well-known/jwks.json").json["keys"]
    assert keys and all(k["kty"] == "OKP" and "d" not in k for k in keys)
    assert c.get("/api/v1/profiles/7").json["minimums"]["total"] == "90"
    assert c.get("/api/v1/profiles/14").json["issuer"]["code"] == "310107"
    assert c.get("/api/v1/profiles/99").status_code == 404
    st = c.get(f"/api/v1/status/{A}").json
    assert (st["current_version"], st["status"], st["valid_until"]) == (1, "current", "2028-12-31")
    # the digest an outside verifier binds a token with: SHA-256 of the token's bytes
    import hashlib

    from verifier.token import from_base32

    digest = hashlib.sha256(from_base32(show(run, A)["token"])).hexdigest()
    assert st["versions"] == [{"version": 1, "state": "current", "token_sha256": digest}]
    assert c.get(f"/api/v1/status/{C}").json["status"] == "revoked"
    assert c.get("/api/v1/status/6540040710000015").status_code == 400
    assert c.get("/api/v1/status/6540040710009991").status_code == 404
    doc = c.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.") and "/api/v1/verify" in doc["paths"]
    assert (
        c.get("/api/v1/nothing").status_code == 404 and c.get("/api/v1/nothing").json["error"] == "not_found"
    )


def test_every_response_carries_the_security_headers(service):
    app, run = service
    c = app.test_client()
    for p in (
        "/verify",
        path_of(show(run, A)["url"]),
        "/api/v1/verify?token=x",
        "/.well-known/jwks.json",
        "/api/v1/nothing",
        "/nothing",
    ):
        h = c.get(p).headers
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert "'unsafe-inline'" not in h["Content-Security-Policy"]
        assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "no-referrer"


def test_the_verifier_runs_alone_without_the_issuer(service, db_url):
    app, run = service
    token = show(run, A)["token"]
    code = f"""
import sys, json
from verifier.web import create_app
app = create_app({db_url!r}, KEYS_TTL=0)
assert not [m for m in sys.modules if m == "issuer" or m.startswith("issuer.")], "issuer imported"
r = app.test_client().get("/api/v1/verify?token={token}")
front = app.test_client().get("/")
assert front.status_code == 302 and front.headers["Location"].endswith("/verify"), front.status_code
print(json.dumps([r.status_code, r.json["valid"]]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [200, True]


@pytest.mark.parametrize(
    "method, path, body, limit",
    [
        ("get", "/api/v1/verify?token=x", {}, 600),
        ("post", "/api/v1/verify", {"data": "x", "content_type": "application/xml"}, 300),
        ("get", "/api/v1/status/6540040710000015", {}, 120),
    ],
)
def test_the_api_limits_each_client_address(service, method, path, body, limit):
    c = service[0].test_client()

    def send(client: str):
        return getattr(c, method)(path, environ_base={"REMOTE_ADDR": client}, **body)

    assert 429 not in {send("10.0.0.1").status_code for _ in range(limit)}
    r = send("10.0.0.1")
    assert r.status_code == 429 and f"{limit} per 1 minute".encode() in r.data  # Flask-Limiter's answer
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert send("10.0.0.2").status_code != 429  # another client is not held back


def test_the_api_is_counted_once_a_request(service, monkeypatch):
    """The API's routes count themselves (per_client); Flask-Limiter's own
    check skips them (each of its checks, the before_request hook's and a
    decorator's, starts with its identify_request), and so do its response
    and teardown hooks (they read its request context); all still run for
    the pages' limits."""
    import flask_limiter
    from limits import parse

    app, run = service
    calls, contexts, phase = [], [], ["hook"]
    identify, context = limiter.identify_request, flask_limiter.Limiter.context

    def identify_spy():
        calls.append(phase[0])
        return identify()

    def context_spy(self):
        contexts.append(1)
        return context.fget(self)

    def view_next():  # after the limiter's before_request hook, before the view and its decorator
        phase[0] = "view"

    monkeypatch.setattr(limiter, "identify_request", identify_spy)
    monkeypatch.setattr(flask_limiter.Limiter, "context", property(context_spy))
    monkeypatch.setitem(app.before_request_funcs, None, [*app.before_request_funcs.get(None, []), view_next])
    c = app.test_client()
    assert c.get(f"/api/v1/verify?token={show(run, A)['token']}").status_code == 200
    assert calls == [] and contexts == []
    assert (
        limiter.limiter.get_window_stats(parse("600/minute"), "127.0.0.1", "api.verify_get").remaining == 599
    )
    phase[0] = "hook"
    c.get(f"/verify?no={A}")
    # the lookup page: the hook (once) and then its decorator, as before
    assert calls[0] == "hook" and calls.count("hook") == 1 and set(calls) == {"hook", "view"}, calls
    assert contexts  # and its response and teardown hooks


def test_the_api_json_is_compact_utf8_in_the_documented_order(service):
    """The answer is what jsonify writes (compact, keys in docs/formats.md's
    order, a newline) but in UTF-8, not \\u escapes (orjson, json_response)."""
    import json

    from verifier.numbers import CertificateNumber
    from verifier.token import from_base32, parse
    from verifier.verify import amount, bucket_amounts
    from verifier.vocab import BUCKETS

    app, run = service
    c = app.test_client()
    for token in (show(run, A)["token"], show(run, C)["token"], "x"):
        r = c.get(f"/api/v1/verify?token={token}")
        assert r.mimetype == "application/json"
        assert r.data == json.dumps(r.json, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        assert list(r.json) == ["valid", "outcome", "checks", "certificate", "current", "reading"]
        assert b"\\u" not in r.data and "证书".encode() in r.data
    claims = parse(from_base32(show(run, A)["token"])).claims
    cert = c.get(f"/api/v1/verify?token={show(run, A)['token']}").json["certificate"]
    amounts = bucket_amounts(claims.credits)
    assert cert["credits"] == {b: amount(amounts[b]) for b in BUCKETS}
    assert list(cert["credits"]) == list(BUCKETS)
    assert cert["printed_number"] == CertificateNumber.parse(claims.number).printed == "654004-07-1-000001-4"


def test_security_headers_keep_a_response_s_own():
    from flask import Response

    from verifier.web import SECURITY_HEADERS, security_headers

    r = Response("x", headers={"content-security-policy": "default-src 'none'"})
    h = security_headers(r).headers
    assert h.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert [h[name] for name, _ in SECURITY_HEADERS[1:]] == [value for _, value in SECURITY_HEADERS[1:]]


def test_an_unreachable_register_is_a_503_with_retry_after_never_a_500_nor_invalid(service, monkeypatch):
    from verifier.web import create_app as create_verifier

    _app, run = service
    token = show(run, A)["token"]
    # nothing listens on port 9 of this machine: every connection is refused
    dead = create_verifier("postgresql://postgres@127.0.0.1:9/test", KEYS_TTL=0)
    c = dead.test_client()
    for path in (
        f"/V/{token}",
        f"/api/v1/verify?token={token}",
        f"/verify?no={A}",
        f"/api/v1/status/{A}",
        "/.well-known/jwks.json",
    ):
        r = c.get(path)
        assert r.status_code == 503 and r.headers["Retry-After"] == "30", (path, r.status_code)
        text = r.get_json()["message"] if r.is_json else r.get_data(as_text=True)
        assert "查验服务暂时不可用" in text and "无效" not in text, path
    assert c.post("/api/v1/verify", json={"token": token}).status_code == 503


def test_behind_a_trusted_proxy_each_client_is_counted_and_a_spoofed_header_is_not(service, monkeypatch):
    from issuer.config import load_settings
    from verifier.web import limiter

    for proxies, separate in (("1", True), ("0", False)):
        monkeypatch.setenv("ECERT_TRUSTED_PROXIES", proxies)
        app = create_app(load_settings(), KEYS_TTL=0)
        limiter.reset()
        c = app.test_client()

        def wrong(client: str, c=c) -> int:
            return c.get(
                f"/verify?no={A}&code=WRONGCODE0000", headers={"X-Forwarded-For": client}
            ).status_code

        assert [wrong("10.1.1.1") for _ in range(30)] == [403] * 30 and wrong("10.1.1.1") == 429
        # another client behind the same proxy: its own count, if the proxy is trusted
        assert wrong("10.2.2.2") == (403 if separate else 429)
        app.extensions["ecert_verifier"].close()
        app.extensions["ecert_engine"].dispose()
    monkeypatch.setenv("ECERT_TRUSTED_PROXIES", "many")
    with pytest.raises(Exception, match="ECERT_TRUSTED_PROXIES"):
        load_settings()


def test_pages_with_the_birth_date_are_not_kept_by_a_browser(service):
    app, run = service
    code = show(run, A)["check_code"]
    r = app.test_client().get(f"/verify?no={A}&code={code}")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
