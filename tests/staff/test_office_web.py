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


# -- the review queue: selecting a page, deciding a whole school or project ----------


def _boxes(html: str) -> list[tuple[str, bool]]:
    return [
        (m.group(1), "checked" in m.group(2))
        for m in re.finditer(r'name="record" value="(\d+)"([^>]*)>', html)
    ]


def test_a_page_is_selected_without_javascript_and_the_header_offers_select_all(app, region):
    reg = signed_in(app, region, "reg-a")
    upload(reg, [record_row(region.a[0], "X-PRO"), record_row(region.a[1], "X-ELE")])
    aud = signed_in(app, region, "auditor")
    page = aud.get(f"/office/review?school={SCHOOL_A[0]}").get_data(as_text=True)
    assert [on for _, on in _boxes(page)] == [False, False]
    assert "10.00" in page and "5.00" in page  # each record's credits stay in the queue
    assert 'src="/static/office-review.js"' in page and 'id="select-all-cell"' in page
    link = re.search(r'id="select-page"[^>]*href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "select=page" in link
    selected = aud.get(link).get_data(as_text=True)
    assert [on for _, on in _boxes(selected)] == [True, True]
    assert "取消选择本页" in selected
    # the ticked page, sent as it is, decides exactly those records
    r = aud.post(
        "/office/review/decide",
        data={
            "csrf_token": csrf(aud, "/office/review"),
            "school": SCHOOL_A[0],
            "action": "recognise",
            "record": [i for i, _ in _boxes(selected)],
        },
    )
    assert r.status_code == 302
    assert total(region, region.a[0]) == "10.00" and total(region, region.a[1]) == "5.00"


def test_the_static_script_is_served_under_the_pages_policy(app):
    r = app.test_client().get("/static/office-review.js")
    assert r.status_code == 200 and "select-all" in r.get_data(as_text=True)
    r.close()


def test_deciding_everything_pending_names_the_count_and_refuses_another(app, region):
    reg = signed_in(app, region, "reg-a")
    upload(
        reg,
        [
            record_row(region.a[0], "X-PRO"),
            record_row(region.a[1], "X-PRO"),
            record_row(region.a[0], "X-ELE"),
        ],
    )
    aud = signed_in(app, region, "auditor")
    page = aud.get(f"/office/review?school={SCHOOL_A[0]}").get_data(as_text=True)
    assert "整校认定（全部 3 条）" in page and 'name="expected" value="3"' in page
    filtered = aud.get(f"/office/review?school={SCHOOL_A[0]}&project=X-PRO").get_data(as_text=True)
    assert len(_boxes(filtered)) == 2 and "认定筛选出的全部 2 条" in filtered
    assert 'name="expected" value="2"' in filtered and 'name="project" value="X-PRO"' in filtered
    token = csrf(aud, "/office/review")
    form = {"csrf_token": token, "confirm": SCHOOL_A[0], "project": "X-PRO", "action": "reject"}

    # the page said 1, there are 2: nothing changes
    r = aud.post(f"/office/review/school/{SCHOOL_A[0]}", data={**form, "expected": "1", "reason": "缺证明"})
    assert r.status_code == 302 and "project=X-PRO" in r.headers["Location"]
    said = aud.get("/office/").get_data(as_text=True)
    assert "现为 2 条" in said and "确认时的 1 条" in said
    aud.post(f"/office/review/school/{SCHOOL_A[0]}", data={**form, "expected": "2", "reason": ""})
    assert "退回须写明原因" in aud.get("/office/").get_data(as_text=True)
    aud.post(
        f"/office/review/school/{SCHOOL_A[0]}", data={**form, "expected": "2", "confirm": "x", "reason": "缺"}
    )
    assert "请在确认框中输入学校代码" in aud.get("/office/").get_data(as_text=True)
    page = aud.get(f"/office/review?school={SCHOOL_A[0]}").get_data(as_text=True)
    assert len(_boxes(page)) == 3

    aud.post(f"/office/review/school/{SCHOOL_A[0]}", data={**form, "expected": "2", "reason": "缺少证明"})
    assert "已退回学校 6540040001 项目 X-PRO 的全部 2 条待认定记录" in aud.get("/office/").get_data(
        as_text=True
    )
    rejected = aud.get(f"/office/review?school={SCHOOL_A[0]}&status=rejected").get_data(as_text=True)
    assert rejected.count("缺少证明") == 2
    r = aud.post(
        f"/office/review/school/{SCHOOL_A[0]}",
        data={"csrf_token": token, "confirm": SCHOOL_A[0], "expected": "1", "action": "recognise"},
    )
    assert "已认定学校 6540040001 的全部 1 条待认定记录" in aud.get("/office/").get_data(as_text=True)
    assert total(region, region.a[0]) == "5.00"  # X-ELE recognised, X-PRO rejected
    for bad in ({"expected": "-1"}, {"expected": "1e3"}, {"action": "delete"}):
        r = aud.post(f"/office/review/school/{SCHOOL_A[0]}", data={**form, "reason": "x", **bad})
        assert r.status_code == 400, bad


# -- the declare page: the template, the file's own name, the error report alone ----


def test_the_declaration_template_has_the_imports_headers_and_imports_once_filled(app, region):
    from openpyxl import load_workbook

    reg = signed_in(app, region, "reg-a")
    assert "/office/declare/template.xlsx" in reg.get("/office/declare").get_data(as_text=True)
    r = reg.get("/office/declare/template.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in r.headers["Content-Disposition"]
    data = r.get_data()
    r.close()
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == RECORD_HEADER
    assert all(c.font.bold for c in ws[1]) and ws.freeze_panes == "A2"
    example = [c.value for c in ws[2]]
    assert example[0] == "65400419900101123X" and example[2:4] == ["合格", "学员"]
    assert ws.max_row == 2 and ws.column_dimensions["A"].number_format == "@"  # ID numbers stay text
    assert wb.worksheets[1].title == "填写说明"

    # the example row, left in, is refused for what it is; replaced by a real one, it imports
    buffer = io.BytesIO(data)
    refused = reg.post(
        "/office/declare",
        data={"csrf_token": csrf(reg, "/office/declare"), "file": (buffer, "模板.xlsx")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400 and "不在本校教师名册中" in refused.get_data(as_text=True)
    ws["A2"], ws["B2"] = region.a[0], "X-PRO"
    filled = io.BytesIO()
    wb.save(filled)
    filled.seek(0)
    r = reg.post(
        "/office/declare",
        data={"csrf_token": csrf(reg, "/office/declare"), "file": (filled, "一小申报.xlsx")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and "已申报：一小申报.xlsx：1 行，新增 1" in r.get_data(as_text=True)
    assert reg.get("/office/declare/template.xlsx").status_code == 200
    aud = signed_in(app, region, "auditor")
    assert aud.get("/office/declare/template.xlsx").status_code == 404  # the declare role's


def test_the_page_names_the_uploaded_file_and_a_report_stands_alone(app, region):
    reg = signed_in(app, region, "reg-a")
    ok = upload(reg, [record_row(region.a[0], "X-PRO")], name="第一批 申报.csv")
    html = ok.get_data(as_text=True)
    assert "已申报：第一批 申报.csv：1 行" in html
    assert "本校记录" in html
    bad = upload(reg, [record_row(region.b[0], "X-PRO")], name="第二批.csv")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "上传的文件：<strong>第二批.csv</strong>" in html
    assert "本校记录" not in html and 'class="state-declared"' not in html  # the report alone
    assert re.search(r'<a href="/office/declare">查看本校已申报的记录</a>', html)
    assert "本校记录" in reg.get("/office/declare").get_data(as_text=True)


def test_an_uploads_name_is_its_last_part_whatever_the_browser_sent():
    from issuer.web.office.declare import upload_name

    assert upload_name("C:\\Users\\专管员\\记录.xlsx") == "记录.xlsx"
    assert upload_name("/home/a/记录.csv") == "记录.csv"
    assert upload_name("") == upload_name(None) == "upload.csv"
