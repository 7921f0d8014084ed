"""The office's JSON API as another system of the bureau uses it: bearer
tokens made by issuer.office.staff.create_token, the region of two schools, and
every answer checked against the OpenAPI document's schema for it."""

from __future__ import annotations

import io
import json
import re

from openapi_spec_validator import OpenAPIV30SpecValidator

from issuer.config import load_settings
from issuer.db import write_session
from issuer.office import jobs as jobs_lib
from issuer.office import staff
from issuer.web.office_api import PREFIX
from tests.builders import RECORD_HEADER, record_row
from tests.helpers import SCHOOL_A, SCHOOL_B, Api, signed_in
from verifier.numbers import CertificateNumber


def run_job(region, job_id: int) -> None:
    """What the Celery tasks do (issuer/office/tasks.py), here in the test."""
    settings = load_settings()
    chunks: list[int] = []
    jobs_lib.plan(region.engine, job_id, settings, dispatch=lambda j, i: chunks.append(i))
    assert chunks
    for i in chunks:
        assert jobs_lib.run_chunk(region.engine, job_id, i, settings, "w@test") == "done"


def api_routes(app) -> list[tuple[str, str]]:
    """(OpenAPI path template, method) of every route of the blueprint."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("office_api."):
            template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(PREFIX) :])
            out += [(template, m) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


def json_records(*rows):
    return [
        dict(zip(("id_number", "project_code", "grade", "role", "completed_on"), r, strict=True))
        for r in rows
    ]


def csv_bytes(rows) -> bytes:
    return ("\n".join(",".join(r) for r in [RECORD_HEADER, *rows]) + "\n").encode("utf-8-sig")


def multipart_by_hand(school: str, name: str, content: bytes) -> dict:
    """A multipart body as bytes (the test client spools a large `data={file}`
    to a temporary file it leaves open when the app does not read it all)."""
    b = "ecert-test-boundary"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="school"\r\n\r\n{school}\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{b}--\r\n".encode()
    )
    return dict(data=body, content_type=f"multipart/form-data; boundary={b}")


def total(api, number) -> str:
    r = api.get("/teachers/{number}/sheet", params={"number": number})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["buckets"]["total"]


# -- the document ----------------------------------------------------------------


def test_the_openapi_document_is_valid_public_and_lists_every_route(app):
    r = app.test_client().get(PREFIX + "/openapi.json")  # no token needed
    assert r.status_code == 200
    doc = r.get_json()
    OpenAPIV30SpecValidator(doc).validate()
    assert (
        doc["openapi"].startswith("3.0")
        and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    )
    routes = api_routes(app)
    assert len(routes) >= 10
    documented = {(path, m.upper()) for path, ops in doc["paths"].items() for m in ops}
    assert set(routes) == documented  # a new route without its description fails here
    for path, method in routes:
        op = doc["paths"][path][method.lower()]
        public = op.get("security") == []
        assert public == (path == "/openapi.json")
        if not public:
            assert {"400", "401", "404", "429"} <= set(op["responses"]), (path, method)
            assert {"200", "202"} & set(op["responses"]), (path, method)
        if method == "POST" and "{" not in path.rsplit("/", 1)[-1] and path != "/schools/{code}/recognise":
            assert "requestBody" in op, path


# -- authentication ----------------------------------------------------------


def test_every_route_refuses_no_token_a_wrong_one_and_a_revoked_one(app, region, tokens):
    app.config["OFFICE_API_AUTH_FAILURES"] = "1000 per minute"  # this test fails on purpose, often
    with write_session(region.engine) as s:
        revoked = staff.create_token(s, "admin", "old")
    with write_session(region.engine) as s:
        assert staff.revoke_tokens(s, "admin") == 2  # the fixture's and this one
    api = Api(app, None)
    routes = [(p, m) for p, m in api_routes(app) if p != "/openapi.json"]
    for path, method in routes:
        for header in (
            None,
            "Bearer ecert_not-a-token",
            f"Bearer {revoked}",
            f"Basic {tokens['auditor']}",
            f"Bearer {tokens['auditor']}x",
            "Bearer ecert_\xe9" + "x" * 300,
            "Bearer ",
        ):
            r = api(
                method,
                path,
                token=None,
                headers={"Authorization": header} if header else {},
                json={"ids": [1], "reason": "x"},
            )
            assert r.status_code == 401, (method, path, header, r.status_code)
            assert r.headers["WWW-Authenticate"].startswith("Bearer realm=")
            assert ("invalid_token" in r.headers["WWW-Authenticate"]) == (
                header not in (None, "Bearer ") and not header.startswith("Basic")
            )
    # the same routes do answer with a good token: the 401s were about the token
    assert api.get("/audit/verify", token=tokens["auditor"]).status_code == 200


def test_an_office_session_cookie_is_not_a_token(app, region):
    browser = signed_in(app, region, "auditor")
    r = browser.get(PREFIX + "/records")
    assert r.status_code == 401 and "Set-Cookie" not in r.headers


def test_unknown_paths_and_methods_answer_in_the_api_shape(app, tokens):
    c = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['admin']}"}
    r = c.get(PREFIX + "/nothing-here", headers=auth)
    assert r.status_code == 404 and r.get_json()["error"]["detail"].startswith("no such endpoint")
    r = c.delete(PREFIX + "/records", headers=auth)
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert r.get_json()["error"]["message"] == "不支持的请求方法"


def test_each_token_is_rate_limited_and_so_are_a_clients_failures(app, tokens):
    app.config.update(OFFICE_API_LIMIT="3 per minute", OFFICE_API_AUTH_FAILURES="4 per minute")
    a, b = Api(app, tokens["auditor"]), Api(app, tokens["admin"])
    assert [a.get("/audit/verify").status_code for _ in range(4)] == [200, 200, 200, 429]
    r = a.get("/audit/verify")
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    assert b.get("/audit/verify").status_code == 200  # per token, not per client
    bad = Api(app, "ecert_guess")
    assert [bad.get("/audit/verify").status_code for _ in range(5)] == [401] * 4 + [429]
    assert b.get("/audit/verify").status_code == 429  # this client is held back for the window


# -- scope ---------------------------------------------------------------------


def test_a_registrar_gets_404_for_another_schools_objects_on_every_route(
    app, region, tokens, numbers, issued, queued
):
    b_number, a_number = numbers[region.b[0]], numbers[region.a[0]]
    # school B declares a record, so there is a real record of B's to aim at
    assert (
        Api(app, tokens["reg-b"])
        .post("/records", json=json_records(record_row(region.b[0], "X-PRO")))
        .status_code
        == 200
    )
    admin = Api(app, tokens["admin"])
    b_ids = [x["id"] for x in admin.get("/records", query=f"school={SCHOOL_B[0]}").get_json()["records"]]
    assert len(b_ids) == 1
    b_job = admin.post("/jobs", json={"kind": "render", "school": SCHOOL_B[0]}).get_json()["id"]
    reg = Api(app, tokens["reg-a"])
    foreign = {"number": b_number, "code": SCHOOL_B[0], "job_id": b_job}
    cases = {
        ("/records", "POST"): [
            dict(json={"school": SCHOOL_B[0], "records": json_records(record_row(region.b[0], "X-ELE"))}),
            dict(query=f"school={SCHOOL_B[0]}", json=json_records(record_row(region.b[0], "X-ELE"))),
            dict(
                data={
                    "school": SCHOOL_B[0],
                    "file": (io.BytesIO(csv_bytes([record_row(region.b[0], "X-ELE")])), "b.csv"),
                },
                content_type="multipart/form-data",
            ),
            dict(
                query=f"school={SCHOOL_B[0]}",
                data=csv_bytes([record_row(region.b[0], "X-ELE")]),
                content_type="text/csv",
            ),
        ],
        ("/records", "GET"): [dict(query=f"school={SCHOOL_B[0]}")],
        ("/records/recognise", "POST"): [dict(json={"ids": b_ids})],
        ("/records/reject", "POST"): [dict(json={"ids": b_ids, "reason": "不是本校"})],
        ("/schools/{code}/recognise", "POST"): [dict(params=foreign)],
        ("/teachers/{number}/sheet", "GET"): [dict(params=foreign)],
        ("/certificates/{number}", "GET"): [dict(params=foreign)],
        ("/certificates/{number}/revoke", "POST"): [dict(params=foreign, json={"reason": "试探"})],
        ("/teachers", "GET"): [dict(query=f"school={SCHOOL_B[0]}")],
        ("/jobs", "POST"): [dict(json={"kind": "issue", "school": SCHOOL_B[0]})],
        ("/jobs", "GET"): [{}],  # batches are the bureau's
        ("/jobs/{job_id}", "GET"): [dict(params=foreign)],
        ("/audit/verify", "GET"): [{}],  # the bureau's log is not a registrar's
    }
    assert set(cases) == {r for r in api_routes(app) if r[0] != "/openapi.json"}  # every route has its case
    for (path, method), variants in cases.items():
        for kw in variants:
            r = reg(method, path, **kw)
            assert r.status_code == 404, (method, path, kw, r.get_json())
    # a number outside her school reads exactly like a number that does not exist
    nowhere = CertificateNumber("654004", 7, 1, 999_999).printed
    for path in ("/teachers/{number}/sheet", "/certificates/{number}"):
        ghost = reg.get(path, params={"number": nowhere})
        assert reg.get(path, params=foreign).get_json() == ghost.get_json()
    # nothing of B's changed, and the same routes serve her own school and the bureau
    assert (
        admin.get("/records", query=f"school={SCHOOL_B[0]}").get_json()["records"][0]["status"] == "declared"
    )
    assert admin.get("/certificates/{number}", params=foreign).get_json()["status"] == "current"
    assert reg.get("/teachers/{number}/sheet", params={"number": a_number}).status_code == 200
    assert reg.get("/certificates/{number}", params={"number": a_number}).status_code == 200
    assert [x["school_code"] for x in reg.get("/records", query="status=all").get_json()["records"]] == []
    assert reg.get("/records").get_json()["school"] == SCHOOL_A[0]
    assert {t["school_code"] for t in reg.get("/teachers").get_json()["teachers"]} == {SCHOOL_A[0]}
    assert admin.get("/jobs/{job_id}", params=foreign).get_json()["school"] == SCHOOL_B[0]
    assert queued == [b_job]  # her refused job never reached the queue


# -- the flow -----------------------------------------------------------------------


def test_declared_as_json_counts_only_once_recognised_through_the_api(app, region, tokens, numbers):
    reg, aud = Api(app, tokens["reg-a"]), Api(app, tokens["auditor"])
    r = reg.post(
        "/records",
        json=json_records(
            record_row(region.a[0], "X-PRO"), record_row(region.a[1], "X-ELE", grade="pass", role="trainee")
        ),
    )
    assert r.status_code == 200 and r.get_json()["created"] == 2
    n0, n1 = numbers[region.a[0]], numbers[region.a[1]]
    assert total(aud, n0) == "0.00" and total(aud, n1) == "0.00"  # declared: not yet counted
    queue = aud.get("/records", query=f"school={SCHOOL_A[0]}").get_json()
    assert queue["pending"] == [{"school_code": SCHOOL_A[0], "school": SCHOOL_A[1], "declared": 2}]
    rows = {x["project_code"]: x for x in queue["records"]}
    assert rows["X-PRO"]["credits"]["credits"] == "10.00" and rows["X-PRO"]["status"] == "declared"
    assert region.a[0] not in json.dumps(queue, ensure_ascii=False)  # ID numbers masked
    # recognise one; reject the other with a reason
    assert aud.post("/records/recognise", json={"ids": [rows["X-PRO"]["id"]]}).get_json()["count"] == 1
    assert total(aud, n0) == "10.00"
    assert aud.post("/records/reject", json={"ids": [rows["X-ELE"]["id"]], "reason": "  "}).status_code == 400
    assert aud.post(
        "/records/reject", json={"ids": [rows["X-ELE"]["id"]], "reason": "证明材料不全"}
    ).get_json() == {"status": "rejected", "count": 1}
    assert total(aud, n1) == "0.00"
    # a record no longer declared cannot be decided again: 404, and nothing changes
    r = aud.post("/records/recognise", json={"ids": [rows["X-ELE"]["id"], rows["X-PRO"]["id"]]})
    assert r.status_code == 404 and total(aud, n1) == "0.00"
    mine = reg.get("/records", query="status=rejected").get_json()["records"]
    assert [(x["project_code"], x["reject_reason"]) for x in mine] == [("X-ELE", "证明材料不全")]
    audit = aud.get("/audit/verify").get_json()
    assert audit["ok"] and audit["entries"] == 2 and audit["problem"] is None


def test_declared_as_a_file_counts_once_the_school_is_recognised(app, region, tokens, numbers):
    from openpyxl import Workbook

    reg, admin, aud = Api(app, tokens["reg-a"]), Api(app, tokens["admin"]), Api(app, tokens["auditor"])
    r = reg.post(
        "/records",
        data={"file": (io.BytesIO(csv_bytes([record_row(region.a[0], "X-PRO")])), "申报.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and r.get_json()["created"] == 1
    wb, out = Workbook(), io.BytesIO()
    wb.active.append(RECORD_HEADER)
    wb.active.append(record_row(region.a[1], "S-SCH"))
    wb.save(out)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert admin.post("/records", data=out.getvalue(), content_type=xlsx).status_code == 400  # which school?
    r = admin.post("/records", query=f"school={SCHOOL_A[0]}", data=out.getvalue(), content_type=xlsx)
    assert r.status_code == 200 and r.get_json()["created"] == 1
    assert total(aud, numbers[region.a[0]]) == "0.00" and total(aud, numbers[region.a[1]]) == "0.00"
    assert reg.post("/schools/{code}/recognise").status_code == 404  # a registrar does not recognise
    r = aud.post("/schools/{code}/recognise")
    assert r.get_json() == {"status": "recognised", "school": SCHOOL_A[0], "count": 2}
    assert total(aud, numbers[region.a[0]]) == "10.00" and total(aud, numbers[region.a[1]]) == "6.00"
    # the bureau has recognised it: the school can no longer change it, by JSON or by file
    r = reg.post("/records", json=json_records(record_row(region.a[0], "X-PRO", grade="优秀")))
    assert r.status_code == 400 and "已由教育局认定" in r.get_json()["error"]["rows"][0]["message"]
    assert aud.post("/schools/{code}/recognise", params={"code": "0000000000"}).status_code == 404


def test_a_refused_declaration_names_each_row_and_stores_nothing(app, region, tokens):
    reg = Api(app, tokens["reg-a"])
    r = reg.post(
        "/records",
        json={
            "records": json_records(
                record_row(region.a[0], "X-PRO"),
                record_row(region.b[0], "X-PRO"),
                record_row(region.a[1], "NO-SUCH"),
                record_row("123", "X-PRO", done="2025-13-01"),
                record_row(region.a[1], "X-ELE", done="2099-01-01"),
            )
        },
    )
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert "整体拒收" in err["message"]
    where = {(x["index"], x["column"]) for x in err["rows"]}
    assert {
        (1, "id_number"),
        (2, "project_code"),
        (3, "id_number"),
        (3, "completed_on"),
        (4, "completed_on"),
    } <= where
    assert any("晚于今天" in x["message"] for x in err["rows"] if x["index"] == 4)
    assert 0 not in {x["index"] for x in err["rows"]}
    assert region.b[0] not in r.get_data(as_text=True)  # another school's ID number comes back masked
    assert Api(app, tokens["auditor"]).get("/records", query="status=all").get_json()["records"] == []


def test_revoke_through_the_api(app, region, tokens, numbers, issued):
    aud = Api(app, tokens["auditor"])
    number = numbers[region.b[0]]
    before = aud.get("/certificates/{number}", params={"number": number}).get_json()
    assert before["status"] == "current" and before["history"][0]["reason"] is None
    assert aud.post("/certificates/{number}/revoke", params={"number": number}, json={}).status_code == 400
    r = aud.post("/certificates/{number}/revoke", params={"number": number}, json={"reason": "重复发证"})
    assert r.status_code == 200 and r.get_json()["status"] == "revoked"
    after = aud.get("/certificates/{number}", params={"number": number}).get_json()
    assert after["status"] == "revoked" and after["history"][-1]["reason"] == "重复发证"
    again = aud.post("/certificates/{number}/revoke", params={"number": number}, json={"reason": "再次"})
    assert again.status_code == 409
    audit = aud.get("/audit/verify").get_json()
    assert audit["ok"] and audit["entries"] >= 2  # issuance and the revocation
    # the public verifier agrees at once
    status = app.test_client().get(f"/api/v1/status/{number}").get_json()
    assert status["status"] == "revoked"


# -- bad input ---------------------------------------------------------------------


def test_bad_input_is_a_400_in_json_never_a_500(app, region, tokens, numbers):
    admin = Api(app, tokens["admin"])
    post = admin.post
    cases = [
        ("/records/recognise", dict(data=b"{not json", content_type="application/json")),
        ("/records/recognise", dict(data=b'{"ids": [1]}', content_type="text/plain")),
        ("/records/recognise", dict(data=b"ids=1", content_type="application/x-www-form-urlencoded")),
        ("/records/recognise", dict(data=b"\xff\xfe{\x00}", content_type="application/json")),
        ("/records/recognise", dict(data=b"[" * 200_000, content_type="application/json")),
        (
            "/records/recognise",
            dict(data=b'{"ids": [' + b"1," * 600_000 + b"1]}", content_type="application/json"),
        ),
        ("/records/recognise", dict(json={"ids": "1,2"})),
        ("/records/recognise", dict(json={"ids": [True]})),
        ("/records/recognise", dict(json={"ids": [2**63]})),  # no id at all (PostgreSQL would overflow)
        ("/records/recognise", dict(json={"ids": []})),
        ("/records/recognise", dict(json=[1, 2])),
        ("/records/reject", dict(json={"ids": [1]})),
        ("/records/reject", dict(json={"ids": [1], "reason": "x" * 501})),
        ("/records", dict(data=b"", content_type="application/octet-stream")),
        ("/records", dict(json={"school": SCHOOL_A[0], "records": []})),
        ("/records", dict(json={"school": SCHOOL_A[0], "records": "all"})),
        (
            "/records",
            dict(json={"school": 6540040001, "records": json_records(record_row(region.a[0], "X-PRO"))}),
        ),
        ("/records", dict(json={"school": SCHOOL_A[0], "records": [{"id_number": 123}]})),
        ("/records", dict(json={"school": SCHOOL_A[0], "records": ["a"]})),
        ("/records", dict(json=json_records(record_row(region.a[0], "X-PRO")))),  # an admin names the school
        (
            "/records",
            dict(
                query=f"school={SCHOOL_A[0]}",
                data=csv_bytes([record_row(region.a[0], "X-PRO")]).decode("utf-8-sig").encode("utf-16"),
                content_type="text/csv",
            ),
        ),
        (
            "/records",
            dict(
                query=f"school={SCHOOL_A[0]}",
                data="身份证号\n".encode("gb18030") + b"\xb0\xa1",
                content_type="text/csv",
            ),
        ),
        (
            "/records",
            dict(
                query=f"school={SCHOOL_A[0]}",
                data=b"PK\x03\x04garbage",
                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        ),
        (
            "/records",
            dict(
                data={"school": SCHOOL_A[0], "file": (io.BytesIO(b"%PDF-1.4"), "scan.pdf")},
                content_type="multipart/form-data",
            ),
        ),
        ("/records", dict(data={"school": SCHOOL_A[0]}, content_type="multipart/form-data")),
        ("/records", multipart_by_hand(SCHOOL_A[0], "big.csv", b"x" * (11 * 1024 * 1024))),
        (
            "/records",
            dict(query=f"school={SCHOOL_A[0]}", data=b"x" * (11 * 1024 * 1024), content_type="text/csv"),
        ),
        ("/certificates/{number}/revoke", dict(params={"number": numbers[region.a[0]]}, json={"reason": 7})),
        ("/certificates/{number}/revoke", dict(params={"number": "not-a-number"}, json={"reason": "x"})),
        ("/jobs", dict(json={"kind": ["issue"]})),  # unhashable: once a TypeError, a 500
        ("/jobs", dict(json={"kind": {"issue": 1}})),
        ("/jobs", dict(json={"kind": "issue", "school": 6540040001})),
    ]
    for path, kw in cases:
        r = post(path, **kw)
        assert r.status_code == 400, (path, kw.get("json") or str(kw.get("data"))[:60], r.get_json())
    for kw in (
        multipart_by_hand(SCHOOL_A[0], "big.csv", b"x" * (11 * 1024 * 1024)),
        multipart_by_hand(SCHOOL_A[0], "small.csv", b"\xff\xfe" + csv_bytes([])),
    ):
        # the same body by hand, small, is read (and refused for its encoding): the big one for its size
        err = post("/records", **kw).get_json()["error"]
        assert ("过大" in err["message"]) == (len(kw["data"]) > 10 * 1024 * 1024), err
    for path, query in (
        ("/records", "status=lost"),
        ("/records", "limit=0"),
        ("/records", "limit=x"),
        ("/records", "offset=-1"),
        ("/teachers/{number}/sheet", "as_of=2025-02-30"),
        ("/teachers/{number}/sheet", "as_of=2099-01-01"),
    ):  # a day ahead, as the CLI refuses
        r = admin.get(path, query=query, params={"number": numbers[region.a[0]]})
        assert r.status_code == 400, (path, query)
    assert admin.get("/teachers/{number}/sheet", params={"number": "1234"}).status_code == 400
    # nothing was declared by any of it
    assert admin.get("/records", query="status=all").get_json()["records"] == []


# -- queries and background jobs ------------------------------------------------


def test_the_school_table_and_a_background_issue_job(app, region, tokens, numbers, issued, queued):
    region.run("records", "import", str(region.records_file("rec.csv", [record_row(region.a[0], "X-PRO")])))
    admin, aud, reg = Api(app, tokens["admin"]), Api(app, tokens["auditor"]), Api(app, tokens["reg-a"])
    table = admin.get("/teachers").get_json()  # the region
    assert [t["school_code"] for t in table["teachers"]] == [SCHOOL_A[0], SCHOOL_A[0], SCHOOL_B[0]]
    assert table["school"] is None and not table["more"]
    first = table["teachers"][0]
    assert first["number"] == numbers[region.a[0]] and first["buckets"]["total"] == "10.00"
    assert first["qualified"] is False and "total" in first["unmet"] and region.a[0] not in json.dumps(table)
    assert first["certificate"] == {"version": 1, "state": "current"}  # from the fixture's `ecert issue`
    page = admin.get("/teachers", query="limit=2&offset=1").get_json()
    assert [t["number"] for t in page["teachers"]] == [numbers[region.a[1]], numbers[region.b[0]]]
    assert admin.get("/teachers", query="limit=1").get_json()["more"] is True
    assert len(reg.get("/teachers", query="short=any").get_json()["teachers"]) == 2
    assert admin.get("/teachers", query="short=nonsense").status_code == 400
    assert admin.get("/teachers", query="school=0000000000").status_code == 404

    # the record changed a's sheet: an issue job reissues hers, leaves the others unchanged
    r = aud.post("/jobs", json={"kind": "issue"})
    assert r.status_code == 202 and r.get_json()["state"] == "queued"
    job_id = r.get_json()["id"]
    assert queued == [job_id] and r.headers["Location"].endswith(f"/jobs/{job_id}")
    assert aud.get("/jobs/{job_id}", params={"job_id": job_id}).get_json()["done"] == 0
    run_job(region, job_id)
    done = aud.get("/jobs/{job_id}", params={"job_id": job_id}).get_json()
    assert done["state"] == "done" and done["done"] == done["total"] == 3
    assert done["counts"] == {"issued": 0, "reissued": 1, "unchanged": 2, "refused": 0}
    assert [j["id"] for j in aud.get("/jobs").get_json()["jobs"]] == [job_id]
    assert admin.get("/teachers").get_json()["teachers"][0]["certificate"] == {
        "version": 2,
        "state": "current",
    }
    assert aud.post("/jobs", json={"kind": "mine"}).status_code == 400
    assert aud.post("/jobs", json={"kind": "issue", "school": "0000000000"}).status_code == 404
    for missing in (999, 2**64):
        assert aud.get("/jobs/{job_id}", params={"job_id": missing}).status_code == 404
    assert queued == [job_id]
