"""Helpers more than one test module uses: the bureaus' constants, `ecert`
output read as JSON, the office pages and API as a client uses them, the
background jobs' steps run by hand, and a token forged with a leaked key.
The fixtures that build on them are in tests/conftest.py; the files and
people imported are made by tests/builders.py."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tests.builders import RECORD_HEADER

PASSPHRASE = "correct horse battery staple"

# -- the small bureau (the `bureau` fixture) --------------------------------------

# (code, level, category, mode, hours): 5+15+10+20+10+10+20 = 90 credits
FULL = [
    ("Z-PUB", "州级", "必修-公共", "集中", "20"),
    ("Z-PRO", "州级", "必修-专业", "集中", "60"),
    ("X-PUB", "县市级", "必修-公共", "集中", "40"),
    ("X-PRO", "县市级", "必修-专业", "集中", "80"),
    ("X-DIG", "县市级", "必修-数字素养", "集中", "40"),
    ("X-ELE", "县市级", "选修", "集中", "40"),
    ("S-SCH", "校级", "校本", "校本", "100"),
]


def show(run, number: str) -> dict:
    """`ecert show NUMBER --json`."""
    return json.loads(run("show", number, "--json").stdout)


def verify(run, value: str, *args: str) -> dict:
    """`ecert verify VALUE --json` (a refusal is an answer too)."""
    return json.loads(run("verify", value, "--json", *args, check=False).stdout)


def active_kid(run) -> str:
    """The kid of the bureau's one signing key."""
    (key,) = list(json.loads(run("keys", "jwks").stdout)["keys"])
    return key["kid"]


def leaked_key(keys_dir, kid: str):
    """What someone who stole the key has: the PEM file and the passphrase."""
    from cryptography.hazmat.primitives import serialization

    from verifier.token import cose_private_key, key_id

    private = serialization.load_pem_private_key((keys_dir / f"{kid}.pem").read_bytes(), PASSPHRASE.encode())
    public_raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return cose_private_key(raw, public_raw), key_id(public_raw)


def forge(keys_dir, kid: str, genuine_token: str, backdate_to) -> str:
    """The genuine token's number and version, signed again by the leaked key
    with another holder, three times the credits and an earlier iat."""
    from dataclasses import replace

    from verifier.token import from_base32, parse, sign, to_base32

    c = parse(from_base32(genuine_token)).claims
    forged = replace(
        c,
        holder="冒名顶替",
        issued=int(backdate_to.timestamp()),
        credits=tuple(3 * v for v in c.credits),
        years=tuple(3 * v for v in c.years),
    )
    cose, kid_bytes = leaked_key(keys_dir, kid)
    return to_base32(sign(forged, cose, kid_bytes))


# -- the region of two schools (the `region` fixture) -----------------------------

SCHOOL_A = ("6540040001", "霍尔果斯市第一小学")
SCHOOL_B = ("6540040002", "霍尔果斯市第二中学")
PROJECTS = [
    ("X-PRO", "县市级", "必修-专业", "集中", "40"),
    ("X-ELE", "县市级", "选修", "集中", "20"),
    ("S-SCH", "校级", "校本", "校本", "30"),
]
NEW_PASSWORD = "办公室新密码-2026"


@dataclass
class Region:
    run: object
    engine: object
    a: list[str]  # ID numbers of school A's teachers
    b: list[str]
    codes: dict[str, str]  # username → one-time code
    files: object

    def records_file(self, name: str, rows: list[list[str]]):
        return self.files.csv(name, RECORD_HEADER, rows)


def scope_of(engine, username: str):
    from sqlalchemy import select

    from issuer.db import read_session
    from issuer.models import StaffAccount
    from issuer.office.staff import Scope

    with read_session(engine) as s:
        return Scope.of(s.scalar(select(StaffAccount).where(StaffAccount.username == username)))


# -- the office pages, as a browser uses them -------------------------------------


def csrf(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, region, username):
    """A test client signed in as `username`, its one-time code changed."""
    c = app.test_client()
    r = c.post(
        "/office/login",
        data={
            "username": username,
            "password": region.codes[username],
            "csrf_token": csrf(c, "/office/login"),
        },
    )
    assert r.headers["Location"].endswith("/office/password")
    r = c.post(
        "/office/password",
        data={
            "old": region.codes[username],
            "new": NEW_PASSWORD,
            "again": NEW_PASSWORD,
            "csrf_token": csrf(c, "/office/password"),
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    return c


# -- background jobs, the Celery tasks' steps called by the test --------------------


def plan(region, job_id: int) -> list[int]:
    """The plan task's work; the chunks it dispatched."""
    from issuer.config import load_settings
    from issuer.office import jobs as jobs_lib

    out: list[int] = []
    jobs_lib.plan(region.engine, job_id, load_settings(), dispatch=lambda j, i: out.append(i))
    return out


def run(region, job_id: int, index: int, worker: str = "w1@test") -> str:
    from issuer.config import load_settings
    from issuer.office import jobs as jobs_lib

    return jobs_lib.run_chunk(region.engine, job_id, index, load_settings(), worker)


def start(c, kind: str, school: str = ""):
    """Start a job from the office's jobs page."""
    return c.post(
        "/office/jobs", data={"kind": kind, "school": school, "csrf_token": csrf(c, "/office/jobs")}
    )


def progress(c, job_id: int) -> dict:
    r = c.get(f"/office/jobs/{job_id}.json")
    assert r.status_code == 200
    return r.get_json()


# -- the office API, as another system uses it --------------------------------------

SAMPLE = {
    "number": "654004-07-1-000001-X",
    "code": SCHOOL_A[0],
    "job_id": 1,
}  # path values for routes' <parts>


class Api:
    """A test client that sends a token and checks each answer against the
    OpenAPI document: its status must be documented for the operation and
    its JSON must match the documented schema."""

    def __init__(self, app, token: str | None) -> None:
        self.client, self.token = app.test_client(), token

    def __call__(self, method: str, template: str, *, token: str | None = "default", query: str = "", **kw):
        from issuer.web.office_api import PREFIX

        token = self.token if token == "default" else token
        headers = dict(kw.pop("headers", {}))
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        path = PREFIX + template.format(**{**SAMPLE, **kw.pop("params", {})}) + (f"?{query}" if query else "")
        r = self.client.open(path, method=method, headers=headers, **kw)
        conforms(r, template, method)
        return r

    def get(self, template, **kw):
        return self("GET", template, **kw)

    def post(self, template, **kw):
        return self("POST", template, **kw)


def conforms(r, template: str, method: str) -> None:
    from openapi_schema_validator import OAS30Validator

    from issuer.web.office_openapi import OPENAPI

    assert r.mimetype == "application/json", (r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_json()
    if r.status_code >= 400:
        assert set(body) == {"error"} and body["error"]["message"] and body["error"]["detail"], body
        assert re.search(r"[\u4e00-\u9fff]", body["error"]["message"]), body  # in Chinese
        assert "Traceback" not in r.get_data(as_text=True)
    op = OPENAPI["paths"][template][method.lower()]
    documented = op["responses"].get(str(r.status_code))
    assert documented is not None, f"{method} {template} answered {r.status_code}, not documented: {body}"
    if "$ref" in documented:
        documented = OPENAPI["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    schema = documented["content"]["application/json"]["schema"]
    OAS30Validator({**schema, "components": OPENAPI["components"]}).validate(body)


def render_pdfs_inline(app) -> None:
    """The teacher's PDF download asks a worker to render and sign (the web
    process holds no key); here the worker's own function runs in the test's
    process instead of through the broker."""
    from issuer.pdf.cache import render_to_cache
    from verifier.profiles import load_profile

    st = app.config["ECERT_SETTINGS"]
    engine = app.extensions["ecert_engine"]
    app.config["ECERT_PDF_DISPATCH"] = lambda number: render_to_cache(
        engine, st, load_profile(st.profile_id), number
    )


# -- a region's certificates and revocations (tests/staff/test_revoke_batch.py,
# -- tests/test_cli_revoke_batch.py) ------------------------------------------------


def number_of(region, idn: str) -> str:
    """The certificate number of the teacher with ID number `idn`."""
    return json.loads(region.run("credits", idn, "--json").stdout)["certificate_number"]


def newest_states(region) -> dict[str, tuple[int, str]]:
    """number → (version, state) of its newest version."""
    from sqlalchemy import select

    from issuer.db import read_session
    from issuer.models import Certificate

    with read_session(region.engine) as s:
        rows = s.execute(
            select(Certificate.number, Certificate.version, Certificate.state).order_by(Certificate.version)
        )
        return {n: (v, st) for n, v, st in rows}


def revocations(region) -> list[tuple[str, dict]]:
    """(number, detail with the actor) of each revocation in the audit log, in order."""
    from sqlalchemy import select

    from issuer.db import read_session
    from issuer.models import AuditEntry

    with read_session(region.engine) as s:
        rows = s.execute(
            select(AuditEntry.subject, AuditEntry.detail, AuditEntry.actor)
            .where(AuditEntry.action == "revoke")
            .order_by(AuditEntry.seq)
        )
        return [(subject, {**json.loads(detail), "actor": actor}) for subject, detail, actor in rows]
