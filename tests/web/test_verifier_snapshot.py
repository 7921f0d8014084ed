"""The verifier on the signed status snapshot alone (`ECERT_STATUS=snapshot`,
issue 18): no database at all, every verdict the online verifier's, the
snapshot's signature checked at start and at each refresh, a refresh that
picks up a revocation, one that does not verify or goes back in time refused
while the last good snapshot keeps answering."""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.builders import RECORD_HEADER, record_row
from tests.helpers import active_kid, forge, show
from verifier.settings import SettingsError, load_verifier_settings
from verifier.web import create_app, limiter

A, B, C = "6540040710000014", "6540040710000022", "6540040710000030"
OTHER_BUREAU = "6540000710000018"  # a well-formed number of another bureau (伊犁州)


def snapshot_env(status, jwks) -> dict[str, str]:
    """The verifier's environment in snapshot mode, and nothing else: no database URL."""
    return {"ECERT_STATUS": "snapshot", "ECERT_STATUS_SNAPSHOT": str(status), "ECERT_JWKS": str(jwks)}


class Register:
    """The small bureau's register: A current, B reissued (version 1
    superseded by 2), C revoked; its JWKS and status snapshot published."""

    def __init__(self, run, tmp_path, db_url) -> None:
        self.run, self.db_url = run, db_url
        self.out = tmp_path / "public"
        self.jwks, self.status = self.out / "jwks.json", self.out / "status.json"

    def publish(self) -> None:
        """As the bureau publishes on its schedule: `ecert keys jwks` and
        `ecert status export` (issuer/certificates/snapshot.py's signed_snapshot
        and write_snapshot, which replaces the file whole)."""
        self.run("keys", "jwks", "-o", str(self.jwks))
        self.run("status", "export", "-o", str(self.status))

    def tokens(self) -> dict[str, str]:
        return {name: show(self.run, n)["token"] for name, n in (("a", A), ("b", B), ("c", C))}


@pytest.fixture
def register(keyed, bureau, files, tmp_path, db_url):
    keyed("issue")
    reg = Register(keyed, tmp_path, db_url)
    reg.b_old = show(keyed, B)
    keyed("records", "import", str(files.csv("more.csv", RECORD_HEADER, [record_row(bureau[1], "X-PRO")])))
    keyed("issue")  # B: version 2 supersedes version 1
    keyed("revoke", C, "--reason", "重复登记")
    reg.publish()
    return reg


@pytest.fixture
def no_database(monkeypatch):
    """Any attempt to reach a database fails the test. (The settings the
    apps get hold no database URL; `ecert` itself, which builds the register,
    still has one: a fresh process without any is tried below.)"""
    import verifier.web

    def refuse(*args, **kw):
        raise AssertionError("the snapshot verifier made a database engine")

    monkeypatch.setattr(verifier.web, "create_engine", refuse)


@pytest.fixture
def online_app(register):
    app = create_app(register.db_url, settings=load_verifier_settings({}), KEYS_TTL=0)
    limiter.reset()
    yield app
    app.extensions["ecert_verifier"].close()


@pytest.fixture
def snapshot_app(register, online_app, no_database):
    """The verifier on the snapshot; made after the online one (whose engine the fixture allows)."""
    app = create_app(settings=load_verifier_settings(snapshot_env(register.status, register.jwks)))
    yield app
    app.extensions["ecert_verifier"].close()


def api(app, token: str, at: str = "2027-06-01") -> dict:
    r = app.test_client().get(f"/api/v1/verify?token={token}&at={at}")
    assert r.status_code in (200, 400), r.get_data(as_text=True)[:300]
    return r.get_json()


def comparable(result: dict) -> dict:
    """A result without where its status came from: the status check's
    detail names the register or the snapshot. All else must be equal,
    the credits' reading included."""
    sources = re.compile(r" \((online register|status snapshot of bureau \d{6}, [^)]*)\)")
    return {**result, "checks": [{**c, "detail": sources.sub("", c["detail"])} for c in result["checks"]]}


def test_every_verdict_is_the_online_verifier_s_without_a_database(
    register, online_app, snapshot_app, tmp_path
):
    tokens = register.tokens()
    forged = forge(tmp_path / "keys", active_kid(register.run), tokens["a"], time_of(tokens["a"]))
    cases = {
        "valid": tokens["a"],
        "valid-b2": tokens["b"],
        "superseded": register.b_old["token"],
        "revoked": tokens["c"],
        "not_valid-forged": forged,
        "not_valid-garbage": "NOT-A-TOKEN",
    }
    for name, token in cases.items():
        for at in ("2027-06-01", "2030-01-01"):
            on, off = api(online_app, token, at), api(snapshot_app, token, at)
            assert comparable(off) == comparable(on), name
            assert off["outcome"] == name.split("-")[0] or at == "2030-01-01", (name, off["outcome"])
    # the result says where its status came from, and from when
    off = api(snapshot_app, tokens["c"])
    assert "status snapshot of bureau 654004" in off["checks"][3]["detail"]
    r = snapshot_app.test_client().get(f"/api/v1/verify?token={tokens['a']}")
    assert r.headers["X-Ecert-Status-Snapshot"] == snapshot_generated_at(register)
    assert api(snapshot_app, register.b_old["token"])["current"]["version"] == 2


def time_of(token: str):
    from verifier.token import from_base32, parse

    return parse(from_base32(token)).claims.issued_at


def snapshot_generated_at(register) -> str:
    import json

    return json.loads(register.status.read_text(encoding="utf-8"))["snapshot"]["generated_at"]


def test_the_pages_read_as_online_and_say_the_snapshot_s_time(register, online_app, snapshot_app):
    tokens = {**register.tokens(), "b_old": register.b_old["token"]}
    for name, token in tokens.items():
        on = online_app.test_client().get(f"/V/{token}")
        off = snapshot_app.test_client().get(f"/V/{token}")
        assert off.status_code == on.status_code == 200, name
        banner = re.compile(r'<section class="banner (\w+)"')
        off_html = off.get_data(as_text=True)
        assert banner.search(off_html).group(1) == banner.search(on.get_data(as_text=True)).group(1), name
        assert "登记状态依据" in off_html and "状态快照" in off_html, name
    assert "证书已撤销" in snapshot_app.test_client().get(f"/V/{tokens['c']}").get_data(as_text=True)
    assert "证书真实，已更新" in snapshot_app.test_client().get(f"/V/{tokens['b_old']}").get_data(
        as_text=True
    )


def test_the_status_api_answers_from_the_snapshot_and_says_from_when(register, online_app, snapshot_app):
    for number in (A, B, C, "654004-07-1-000002-2"):
        on = online_app.test_client().get(f"/api/v1/status/{number}")
        off = snapshot_app.test_client().get(f"/api/v1/status/{number}")
        assert on.status_code == off.status_code == 200
        body = off.get_json()
        assert body.pop("source") == {"kind": "snapshot", "generated_at": snapshot_generated_at(register)}
        assert body == on.get_json(), number
    assert snapshot_app.test_client().get("/api/v1/status/6540040710009991").status_code == 404
    assert snapshot_app.test_client().get(f"/api/v1/status/{OTHER_BUREAU}").status_code == 404
    assert snapshot_app.test_client().get("/api/v1/status/6540040710000015").status_code == 400
    jwks = snapshot_app.test_client().get("/.well-known/jwks.json").get_json()
    assert jwks == online_app.test_client().get("/.well-known/jwks.json").get_json()


def test_lookup_by_number_shows_the_state_and_by_code_needs_the_online_register(register, snapshot_app):
    c = snapshot_app.test_client()
    html = c.get("/verify?no=654004-07-1-000002-2").get_data(as_text=True)
    assert "现行有效" in html and "第 2 版" in html and "霍尔果斯市教育局" in html and "状态快照" in html
    assert "证书已撤销" in c.get(f"/verify?no={C}").get_data(as_text=True)
    code = show(register.run, A)["check_code"]
    r = c.get(f"/verify?no={A}&code={code}")
    assert r.status_code == 501
    assert "需要联机的证书登记系统" in r.get_data(as_text=True) and "热依拉" not in r.get_data(as_text=True)
    assert c.get("/verify?no=6540040710009991").status_code == 404
    assert c.get("/verify?no=6540040710000015").status_code == 400


def test_a_batch_verifies_as_online_and_a_number_with_its_code_says_why_not(
    register, online_app, snapshot_app
):
    tokens = register.tokens()
    code = show(register.run, A)["check_code"]
    items = [
        {"token": tokens["c"]},
        {"token": register.b_old["token"]},
        {"url": show(register.run, A)["url"]},
    ]
    body = {"items": [*items, {"number": A, "code": code}], "at": "2027-06-01"}
    on = online_app.test_client().post("/api/v1/verify/batch", json=body).get_json()
    off = snapshot_app.test_client().post("/api/v1/verify/batch", json=body).get_json()
    assert [comparable(r) for r in off["results"][:3]] == [comparable(r) for r in on["results"][:3]]
    assert [r["outcome"] for r in off["results"]] == ["revoked", "superseded", "valid", "not_valid"]
    needs = off["results"][3]["checks"][0]
    assert "需要联机的证书登记系统" in needs["message"] and "needs the online register" in needs["detail"]
    # the page for a committee: a sheet of verification URLs
    sheet = "查验网址\n" + "\n".join(show(register.run, n)["url"] for n in (A, B, C)) + "\n"
    import io

    r = snapshot_app.test_client().post(
        "/verify/batch",
        data={"sheet": (io.BytesIO(sheet.encode()), "round.csv"), "at": "2027-06-01"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    html = r.get_data(as_text=True)
    assert "热依拉" in html and "已撤销" in html


def test_it_runs_with_no_database_url_at_all_in_a_fresh_process(register):
    import json
    import subprocess
    import sys

    token = show(register.run, A)["token"]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ECERT_VERIFIER_DATABASE_URL")}
    env.update(snapshot_env(register.status, register.jwks))
    code = f"""
import sys, json
import sqlalchemy
sqlalchemy.create_engine = None  # no database, whatever happens
from verifier.web import create_app
app = create_app()
assert not [m for m in sys.modules if m == "issuer" or m.startswith("issuer.")], "issuer imported"
r = app.test_client().get("/api/v1/verify?token={token}")
print(json.dumps([r.status_code, r.json["outcome"]]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [200, "valid"]


def start(register, **config):
    return create_app(settings=load_verifier_settings(snapshot_env(register.status, register.jwks)), **config)


def test_a_tampered_or_missing_snapshot_refuses_to_start(register, no_database, tmp_path):
    text = register.status.read_text(encoding="utf-8")
    register.status.write_text(text.replace('"revoked"', '"current"'), encoding="utf-8")
    with pytest.raises(SettingsError) as e:
        start(register)
    said = str(e.value)
    assert "ECERT_STATUS_SNAPSHOT" in said and "signature does not verify" in said and "不启动" in said
    for env, name in (
        (snapshot_env(tmp_path / "none.json", register.jwks), "ECERT_STATUS_SNAPSHOT"),
        (snapshot_env(register.status, tmp_path / "none.json"), "ECERT_JWKS"),
        ({"ECERT_STATUS": "snapshot", "ECERT_JWKS": str(register.jwks)}, "ECERT_STATUS_SNAPSHOT"),
        ({"ECERT_STATUS": "snapshot", "ECERT_STATUS_SNAPSHOT": str(register.status)}, "ECERT_JWKS"),
    ):
        with pytest.raises(SettingsError, match=name):
            create_app(settings=load_verifier_settings(env))
    # another bureau's keys: the snapshot's key is not among them
    register.publish()
    other = tmp_path / "other-jwks.json"
    other.write_text('{"keys": []}', encoding="utf-8")
    with pytest.raises(SettingsError, match="not in the key set"):
        create_app(settings=load_verifier_settings(snapshot_env(register.status, other)))


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("ECERT_STATUS", "cache", "snapshot（只读签名的状态快照）"),
        ("ECERT_STATUS_REFRESH", "soon", "秒数"),
        ("ECERT_STATUS_REFRESH", "0", "秒数"),
        ("ECERT_STATUS_REFRESH", "nan", "秒数"),
        ("ECERT_STATUS_SNAPSHOT", "ftp://cdn.example/status.json", "http(s)"),
        ("ECERT_JWKS", "s3://bucket/jwks.json", "http(s)"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable_in_both_languages(name, value, words):
    with pytest.raises(SettingsError) as e:
        load_verifier_settings({name: value})
    assert e.value.message.startswith(name) and words in e.value.message
    assert e.value.detail.startswith(name) and name in str(e.value) and " · " in str(e.value)


def test_settings_default_to_the_database_and_read_the_snapshot_s_place():
    s = load_verifier_settings({})
    assert (s.status, s.status_snapshot, s.status_refresh, s.jwks) == ("database", None, 60.0, None)
    s = load_verifier_settings(
        {
            "ECERT_STATUS": " Snapshot ",
            "ECERT_STATUS_SNAPSHOT": "https://cdn.example/status.json",
            "ECERT_STATUS_REFRESH": "15",
            "ECERT_JWKS": "file:///srv/public/jwks.json",
        }
    )
    assert (s.status, s.status_snapshot, s.status_refresh, s.jwks) == (
        "snapshot",
        "https://cdn.example/status.json",
        15.0,
        "/srv/public/jwks.json",
    )


def test_a_refresh_picks_up_a_revocation(register, snapshot_app):
    live = snapshot_app.extensions["ecert_verifier"].live
    token = show(register.run, A)["token"]
    assert api(snapshot_app, token)["outcome"] == "valid"
    assert live.check() == "unchanged"
    register.run("revoke", A, "--reason", "学分记录有误")
    register.publish()
    assert live.check() == "updated"
    after = api(snapshot_app, token)
    assert after["outcome"] == "revoked" and "学分记录有误" in after["checks"][3]["message"]


def test_the_scheduled_refresh_runs_on_its_own_without_holding_up_requests(register, no_database):
    app = start(register, STATUS_REFRESH=0.05)
    try:
        token = show(register.run, A)["token"]
        assert api(app, token)["outcome"] == "valid"  # the first request starts the refresh thread
        register.run("revoke", A, "--reason", "学分记录有误")
        register.publish()
        deadline = time.monotonic() + 15
        while api(app, token)["outcome"] != "revoked":
            assert time.monotonic() < deadline, "the revocation never showed"
            time.sleep(0.05)
    finally:
        app.extensions["ecert_verifier"].close()


def test_a_bad_refresh_keeps_the_last_good_snapshot_and_logs(register, snapshot_app, caplog):
    live = snapshot_app.extensions["ecert_verifier"].live
    token = show(register.run, C)["token"]
    good = register.status.read_text(encoding="utf-8")
    held = live.generated_at
    for bad in (good.replace('"revoked"', '"current"'), good[: len(good) // 2], "[]"):
        register.status.write_text(bad, encoding="utf-8")
        with caplog.at_level(logging.ERROR, logger="ecert.verifier"):
            said = live.check()
        assert said.startswith("kept:"), said
        assert f"keeping the snapshot of {held}" in caplog.text
        assert api(snapshot_app, token)["outcome"] == "revoked"  # still the good one's verdict
        assert live.generated_at == held
    register.status.unlink()
    assert live.check().startswith("kept:") and "cannot read" in caplog.text
    register.publish()  # a good one again is taken
    assert live.check() == "updated" and live.generated_at > held


def test_an_older_snapshot_is_refused(register, no_database, caplog, tmp_path):
    older = tmp_path / "older.json"
    shutil.copy(register.status, older)
    register.run("revoke", A, "--reason", "学分记录有误")
    register.publish()  # newer: A revoked
    app = start(register)
    try:
        live = app.extensions["ecert_verifier"].live
        token = show(register.run, A)["token"]
        assert api(app, token)["outcome"] == "revoked"
        os.replace(older, register.status)  # replayed: it would hide the revocation
        with caplog.at_level(logging.ERROR, logger="ecert.verifier"):
            said = live.check()
        assert said.startswith("kept:") and "older than the one held" in said and "older" in caplog.text
        assert api(app, token)["outcome"] == "revoked"
    finally:
        app.extensions["ecert_verifier"].close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # not on the test's stderr
        pass


@pytest.fixture
def http_root(register):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(register.out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_snapshot_and_keys_may_be_urls_checked_by_last_modified(register, http_root, no_database):
    env = snapshot_env(f"{http_root}/status.json", f"{http_root}/jwks.json")
    app = create_app(settings=load_verifier_settings(env))
    try:
        live = app.extensions["ecert_verifier"].live
        token = show(register.run, A)["token"]
        assert api(app, token)["outcome"] == "valid"
        assert live.check() == "unchanged"  # 304 Not Modified
        register.run("revoke", A, "--reason", "学分记录有误")
        register.publish()
        later = time.time() + 5  # Last-Modified has whole seconds
        os.utime(register.status, (later, later))
        assert live.check() == "updated"
        assert api(app, token)["outcome"] == "revoked"
        missing = snapshot_env(f"{http_root}/nothing.json", f"{http_root}/jwks.json")
        with pytest.raises(SettingsError, match="HTTP 404"):
            create_app(settings=load_verifier_settings(missing))
    finally:
        app.extensions["ecert_verifier"].close()
