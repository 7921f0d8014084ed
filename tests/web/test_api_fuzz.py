"""The public verifier's routes fed what anyone on the internet can send:
arbitrary text as a token, JSON of any shape and depth, bodies of any type,
numbers and codes of any characters. Never a 500; malformed input is a
400 (or 404, 413, 415, 429) with the documented shape. Bounded for CI."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.web import create_app

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["token", "url", "x", ""]) | st.text(max_size=5), inner, max_size=4),
    ),
    max_leaves=10,
)
ALLOWED = {200, 308, 400, 404, 405, 413, 415, 429}  # 308: Werkzeug's redirect for a path like /V//0


@pytest.fixture(scope="module")
def client(tmp_path_factory, sqlite_template):
    path = tmp_path_factory.mktemp("fuzz") / "ecert.sqlite3"
    shutil.copyfile(sqlite_template, path)  # a migrated, empty database
    url = f"sqlite:///{path}"
    # the limiter stays on (Flask-Limiter is one object a process: switching it off here
    # would switch it off for every app after); each request comes from a new address instead
    app = create_app(url, KEYS_TTL=0)
    yield _NewAddress(app.test_client())
    app.extensions["ecert_verifier"].close()


class _NewAddress:
    """A test client whose every request comes from another client address."""

    def __init__(self, client) -> None:
        self.client, self.n = client, 0

    def _next(self, kwargs: dict) -> dict:
        self.n += 1
        return {
            **kwargs,
            "environ_base": {"REMOTE_ADDR": f"10.{self.n >> 16 & 255}.{self.n >> 8 & 255}.{self.n & 255}"},
        }

    def get(self, *args, **kwargs):
        return self.client.get(*args, **self._next(kwargs))

    def post(self, *args, **kwargs):
        return self.client.post(*args, **self._next(kwargs))


def _ok(r) -> None:
    assert r.status_code in ALLOWED, (r.status_code, r.get_data()[:200])
    if r.is_json and r.status_code in (200, 400):
        body = r.get_json()
        assert "valid" in body or "error" in body


@FAST
@given(st.text(max_size=300))
def test_any_text_as_a_token_or_a_path(client, text):
    _ok(client.get("/api/v1/verify", query_string={"token": text}))
    _ok(client.post("/api/v1/verify", data=text.encode("utf-8", "surrogatepass"), content_type="text/plain"))
    safe = "".join(ch for ch in text if ch not in "?#\x00")
    _ok(client.get("/V/" + safe))


@FAST
@given(JSON)
def test_any_json_body(client, body):
    _ok(client.post("/api/v1/verify", data=json.dumps(body), content_type="application/json"))


@FAST
@given(
    st.binary(max_size=400),
    st.sampled_from(
        [
            "application/pdf",
            "image/png",
            "image/jpeg",
            "application/octet-stream",
            "application/json",
            "application/x-www-form-urlencoded",
            "text/xml",
        ]
    ),
)
def test_any_bytes_of_any_type(client, data, ctype):
    _ok(client.post("/api/v1/verify", data=data, content_type=ctype))


@FAST
@given(st.text(max_size=60), st.text(max_size=60), st.text(max_size=12))
def test_any_number_code_and_date_on_the_lookup(client, no, code, at):
    for path in ("/verify", "/api/v1/status/" + "".join(c for c in no if c not in "/?#\x00")):
        _ok(client.get(path, query_string={"no": no, "code": code, "at": at}))


def test_json_nested_past_any_parser(client):
    for depth in (10_000, 100_000):
        _ok(client.post("/api/v1/verify", data="[" * depth, content_type="application/json"))
        _ok(client.post("/api/v1/verify", data='{"token":' * depth, content_type="application/json"))
