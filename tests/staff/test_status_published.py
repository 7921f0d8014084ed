"""`ecert status export --publish` puts the signed status snapshot into the
shared store, and every web server serves it at
/.well-known/status-snapshot.json, with conditional GETs, for verifiers
that run on the snapshot alone (ECERT_STATUS=snapshot) and a CDN."""

from __future__ import annotations

import json

import pytest

from issuer.web import create_app
from verifier.keyset import KeySet
from verifier.status import SnapshotStatus

URL = "/.well-known/status-snapshot.json"


@pytest.fixture(params=["folder", "database"])
def published(request, keyed, bureau, monkeypatch):
    monkeypatch.setenv("ECERT_STORAGE", request.param)
    keyed("issue")
    app = create_app()
    app.config["RATELIMIT_ENABLED"] = False
    yield keyed, app.test_client()
    app.extensions["ecert_engine"].dispose()


def test_nothing_published_is_a_404_that_says_what_to_run(published):
    _, client = published
    r = client.get(URL)
    assert r.status_code == 404 and "ecert status export --publish" in r.get_json()["error"]


def test_the_published_snapshot_verifies_and_refreshes_conditionally(published, tmp_path):
    keyed, client = published
    out = keyed("status", "export", "--publish", "-o", str(tmp_path / "s.json")).stdout
    assert "状态快照已写入" in out
    with client.get(URL) as r:  # closed: the stored file is streamed
        assert r.status_code == 200 and r.mimetype == "application/json"
        body = r.get_data()
    assert json.loads(body)["format"] == "teacher-ecert-status/2"
    keys = KeySet.from_jwks(json.loads(keyed("keys", "jwks").stdout))
    status = SnapshotStatus.from_document(json.loads(body), keys)
    assert status.lookup("6540040710000014") is not None
    assert (tmp_path / "s.json").read_bytes() == body  # the file and the published copy: one document
    etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
    assert "max-age" in r.headers["Cache-Control"]
    assert client.get(URL, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(URL, headers={"If-Modified-Since": modified}).status_code == 304
    keyed("revoke", "6540040710000014", "--reason", "测试")
    keyed("status", "export", "--publish")
    with client.get(URL, headers={"If-None-Match": etag}) as again:
        assert again.status_code == 200 and again.headers["ETag"] != etag
        newer = SnapshotStatus.from_document(json.loads(again.get_data()), keys)
    assert [v.state for v in newer.lookup("6540040710000014").versions] == ["revoked"]


def test_export_needs_a_file_or_publish(keyed):
    r = keyed("status", "export", check=False)
    assert r.returncode == 2 and "--publish" in r.stderr
