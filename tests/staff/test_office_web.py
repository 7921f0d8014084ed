"""The office pages as a browser uses them: real CSRF tokens and cookies,
accounts made by `ecert staff add`, files uploaded as multipart forms."""

from __future__ import annotations

import io
import json
import re

from tests.builders import RECORD_HEADER, record_row
from tests.helpers import SCHOOL_A, SCHOOL_B, csrf, signed_in


def csv_upload(rows) -> bytes:
    lines = [",".join(RECORD_HEADER)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def upload(c, rows, name="records.csv"):
    return c.post(
        "/office/declare",
        data={"csrf_token": csrf(c, "/office/declare"), "file": (io.BytesIO(csv_upload(rows)), name)},
        content_type="multipart/form-data",
    )


def total(region, idn) -> str:
    return json.loads(region.run("credits", idn, "--json").stdout)["buckets"]["total"]


def test_sign_in_needs_the_one_time_code_changed_first(app, region):
    c = app.test_client()
    assert c.get("/office/").headers["Location"].startswith("/office/login")
    bad = c.post(
        "/office/login",
        data={"username": "auditor", "password": "nope", "csrf_token": csrf(c, "/office/login")},
    )
    assert bad.status_code == 401 and "用户名或密码不正确" in bad.get_data(as_text=True)
    c = signed_in(app, region, "auditor")
    assert "工作台" in c.get("/office/").get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(app, region):
    c = app.test_client()
    assert (
        c.post("/office/login", data={"username": "auditor", "password": region.codes["auditor"]}).status_code
        == 400
    )


def test_declare_a_file_then_the_auditor_recognises_it(app, region):
    reg = signed_in(app, region, "reg-a")
    r = upload(reg, [record_row(region.a[0], "X-PRO"), record_row(region.a[1], "X-ELE")])
    assert r.status_code == 200 and "已申报" in r.get_data(as_text=True)
    assert total(region, region.a[0]) == "0.00"

    aud = signed_in(app, region, "auditor")
    page = aud.get(f"/office/review?school={SCHOOL_A[0]}").get_data(as_text=True)
    ids = re.findall(r'name="record" value="(\d+)"', page)
    assert len(ids) == 2 and "10.00" in page  # the credits the rules would give
    r = aud.post(
        "/office/review/decide",
        data={
            "csrf_token": csrf(aud, "/office/review"),
            "school": SCHOOL_A[0],
            "action": "recognise",
            "record": ids[:1],
        },
    )
    assert r.status_code == 302
    assert total(region, region.a[0]) == "10.00"
    assert "待认定" in reg.get("/office/declare").get_data(as_text=True)


def test_a_refused_file_shows_each_bad_row_and_stores_nothing(app, region):
    reg = signed_in(app, region, "reg-a")
    r = upload(
        reg,
        [
            record_row(region.a[0], "X-PRO"),
            record_row(region.b[0], "X-PRO"),
            record_row(region.a[1], "NO-SUCH"),
        ],
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "整体拒收" in html
    assert re.search(r"<td>3</td>.*本校", html, re.S) and re.search(r"<td>4</td>.*未知的项目编号", html, re.S)
    assert region.b[0] not in html  # ID numbers appear masked
    aud = signed_in(app, region, "auditor")
    assert "没有待认定的申报" in aud.get("/office/review").get_data(as_text=True)


def test_a_file_that_is_not_csv_or_xlsx_is_named(app, region):
    reg = signed_in(app, region, "reg-a")
    r = reg.post(
        "/office/declare",
        data={"csrf_token": csrf(reg, "/office/declare"), "file": (io.BytesIO(b"%PDF-1.4"), "scan.pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and "只接受 CSV 或 XLSX" in r.get_data(as_text=True)


def test_reject_needs_a_reason_and_bulk_recognise_needs_the_code(app, region):
    reg = signed_in(app, region, "reg-a")
    upload(reg, [record_row(region.a[0], "X-PRO"), record_row(region.a[1], "X-ELE")])
    aud = signed_in(app, region, "auditor")
    page = aud.get(f"/office/review?school={SCHOOL_A[0]}").get_data(as_text=True)
    ids = re.findall(r'name="record" value="(\d+)"', page)
    token = csrf(aud, "/office/review")
    aud.post(
        "/office/review/decide",
        data={"csrf_token": token, "school": SCHOOL_A[0], "action": "reject", "record": ids, "reason": " "},
    )
    assert "退回须写明原因" in aud.get("/office/").get_data(as_text=True)
    aud.post(f"/office/review/school/{SCHOOL_A[0]}", data={"csrf_token": token, "confirm": SCHOOL_B[0]})
    assert total(region, region.a[0]) == "0.00"
    aud.post(f"/office/review/school/{SCHOOL_A[0]}", data={"csrf_token": token, "confirm": SCHOOL_A[0]})
    assert total(region, region.a[0]) == "10.00" and total(region, region.a[1]) == "5.00"


def test_a_registrar_stays_inside_her_school(app, region):
    reg = signed_in(app, region, "reg-a")
    for path in ("/office/review", f"/office/review?school={SCHOOL_B[0]}"):
        assert reg.get(path).status_code == 404
    token = csrf(reg, "/office/declare")
    assert (
        reg.post(
            "/office/review/decide", data={"csrf_token": token, "action": "recognise", "record": ["1"]}
        ).status_code
        == 404
    )
    assert (
        reg.post(
            f"/office/review/school/{SCHOOL_A[0]}", data={"csrf_token": token, "confirm": SCHOOL_A[0]}
        ).status_code
        == 404
    )
    # naming another school on the declare page is a 404; her own school is fine
    assert reg.get("/office/declare?school=" + SCHOOL_B[0]).status_code == 404
    r = reg.post(
        "/office/declare?school=" + SCHOOL_B[0],
        data={
            "csrf_token": token,
            "file": (io.BytesIO(csv_upload([record_row(region.b[0], "X-PRO")])), "r.csv"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 404
    r = reg.post(
        "/office/declare",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(csv_upload([record_row(region.b[0], "X-PRO")])), "r.csv"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and "本校" in r.get_data(as_text=True)


def test_declare_one_record_in_the_form(app, region):
    reg = signed_in(app, region, "reg-a")
    form = {
        "id_number": region.a[0],
        "project_code": "S-SCH",
        "grade": "合格",
        "role": "学员",
        "completed_on": "2025-05-04",
        "csrf_token": csrf(reg, "/office/declare"),
    }
    bad = reg.post("/office/declare", data={**form, "id_number": "123"})
    assert bad.status_code == 400 and "身份证号" in bad.get_data(as_text=True)
    ahead = reg.post("/office/declare", data={**form, "completed_on": "2099-01-01"})
    assert ahead.status_code == 400 and "晚于今天" in ahead.get_data(as_text=True)
    assert reg.post("/office/declare", data=form).status_code == 302
    assert "S-SCH" in reg.get("/office/declare").get_data(as_text=True)


def test_numbers_out_of_any_range_are_400_or_404_never_500(app, region):
    aud = signed_in(app, region, "auditor")
    for path in (
        "/office/teachers?page=1e20",
        f"/office/teachers?page={10**30}",
        "/office/teachers?page=-1",
        "/office/audit?page=1e20",
        f"/office/audit?page={2**64}",
        f"/office/review?school={SCHOOL_A[0]}&page={10**20}",
    ):
        assert aud.get(path).status_code == 400, path
    for path in (f"/office/jobs/{2**63}", f"/office/jobs/{2**64}.json", f"/office/jobs/{10**40}"):
        assert aud.get(path).status_code == 404, path
    token = csrf(aud, "/office/review")
    for ids in ([str(2**63)], [str(10**30)], ["-5"], ["abc"]):
        r = aud.post(
            "/office/review/decide",
            data={"csrf_token": token, "school": SCHOOL_A[0], "action": "recognise", "record": ids},
        )
        assert r.status_code == 400, ids
