"""Batch verification for a title-review committee: the JSON API
(`POST /api/v1/verify/batch`, docs/formats.md "Batch verification"), the
page that takes a sheet or a pile of PDFs, and its two downloads (XLSX and
the printable 核验报告). Each item is counted against the client's rate
limit, the same count as the single verify API's.

SQLite only: a batch reads the register through the single verification's
code (DatabaseStatus, the lookup by number), which tests/web/test_verifier.py
runs on both databases."""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from dataclasses import dataclass

import pytest

from issuer.config import load_settings
from issuer.web import create_app
from tests.builders import RECORD_HEADER, record_row
from tests.helpers import active_kid, forge, show
from verifier.web import limiter
from verifier.web.openapi import OPENAPI

A, B, C = "6540040710000014", "6540040710000022", "6540040710000030"
FULL_WIDTH = str.maketrans({str(d): chr(0xFF10 + d) for d in range(10)})
OUTCOMES = ("valid", "superseded", "revoked", "expired", "not_valid")


@pytest.fixture
def db_url(sqlite_url):
    return sqlite_url


@dataclass
class Batch:
    app: object
    run: object
    a: dict  # `ecert show` of A: current, valid
    b_old: dict  # B's first version, since superseded by a second
    c: dict  # revoked

    def client(self):
        return self.app.test_client()


@pytest.fixture
def batch(keyed, bureau, files):
    keyed("issue")
    b_old = show(keyed, B)
    keyed("records", "import", str(files.csv("more.csv", RECORD_HEADER, [record_row(bureau[1], "X-PRO")])))
    keyed("issue")  # B: version 2 supersedes version 1
    keyed("revoke", C, "--reason", "重复登记")
    app = create_app(load_settings(), KEYS_TTL=0)
    limiter.reset()
    yield Batch(app, keyed, show(keyed, A), b_old, show(keyed, C))
    app.extensions["ecert_verifier"].close()
    app.extensions["ecert_engine"].dispose()


def post(c, body, client="127.0.0.1", **kw):
    return c.post("/api/v1/verify/batch", json=body, environ_base={"REMOTE_ADDR": client}, **kw)


def conforms(r, status: int) -> None:
    """The answer's status is documented for the batch operation and its
    JSON matches the documented schema."""
    from openapi_schema_validator import OAS31Validator

    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/json"
    documented = OPENAPI["paths"]["/api/v1/verify/batch"]["post"]["responses"][str(status)]
    schema = documented["content"]["application/json"]["schema"]
    OAS31Validator({**schema, "components": OPENAPI["components"]}).validate(r.get_json())


def format_failed(result: dict) -> bool:
    return (
        result["valid"] is False
        and result["outcome"] == "not_valid"
        and len(result["checks"]) == 6
        and result["checks"][0]["name"] == "format"
        and result["checks"][0]["ok"] is False
        and result["certificate"] is None
    )


# -- the API ------------------------------------------------------------------------


def test_the_openapi_document_describes_the_batch_and_is_valid(batch):
    from openapi_spec_validator import OpenAPIV31SpecValidator

    doc = batch.client().get("/api/v1/openapi.json").get_json()
    OpenAPIV31SpecValidator(doc).validate()
    op = doc["paths"]["/api/v1/verify/batch"]["post"]
    assert {"200", "400", "429"} <= set(op["responses"])
    assert doc["components"]["schemas"]["BatchRequest"]["properties"]["items"]["maxItems"] == 500


def test_results_keep_the_order_and_each_is_the_single_api_s_answer(batch):
    c = batch.client()
    printed = "654004-07-1-000001-4".translate(FULL_WIDTH).replace("-", " - ")
    code = batch.a["check_code"].lower()
    items = [
        {"token": batch.c["token"]},  # revoked
        {"url": batch.a["url"].lower()},  # valid, a URL in lower case
        {"token": batch.b_old["token"]},  # superseded
        {"number": printed, "code": f"{code[:4]} {code[4:8]}-{code[8:]}"},  # valid, typed by hand
        {"token": "NOT-A-TOKEN"},
        {"token": batch.a["token"]},
    ]
    r = post(c, {"items": items, "at": "2027-06-01"})
    conforms(r, 200)
    body = r.get_json()
    assert list(body) == ["results", "summary"]
    outcomes = [x["outcome"] for x in body["results"]]
    assert outcomes == ["revoked", "valid", "superseded", "valid", "not_valid", "valid"]
    assert body["summary"] == {"valid": 3, "superseded": 1, "revoked": 1, "expired": 0, "not_valid": 1}
    assert list(body["summary"]) == list(OUTCOMES)
    # each result is exactly what the single API answers for the same token and day
    for token, result in (
        (batch.c["token"], body["results"][0]),
        (batch.a["token"], body["results"][1]),
        (batch.b_old["token"], body["results"][2]),
        (batch.a["token"], body["results"][3]),
    ):
        single = c.get(f"/api/v1/verify?token={token}&at=2027-06-01").get_json()
        assert result == single
    assert body["results"][2]["current"]["version"] == 2
    assert format_failed(body["results"][4])
    # the date asked applies to every item: after A's validity, expired
    late = post(c, {"items": [{"token": batch.a["token"]}], "at": "2029-01-01"}).get_json()
    assert late["results"][0]["outcome"] == "expired" and late["summary"]["expired"] == 1
    # or as a query parameter, as the single API takes it
    r = c.post("/api/v1/verify/batch?at=2029-01-01", json={"items": [{"token": batch.a["token"]}]})
    assert r.get_json()["results"][0]["outcome"] == "expired"


def test_a_forged_token_is_not_valid_in_a_batch(batch, tmp_path):
    from verifier.token import from_base32, parse

    genuine = batch.a["token"]
    forged = forge(
        tmp_path / "keys", active_kid(batch.run), genuine, parse(from_base32(genuine)).claims.issued_at
    )
    body = post(batch.client(), {"items": [{"token": forged}, {"token": genuine}]}).get_json()
    assert [x["outcome"] for x in body["results"]] == ["not_valid", "valid"]
    assert "not issued by the register" in body["results"][0]["checks"][3]["detail"]
    assert body["results"][0]["reading"] is None


@pytest.mark.parametrize(
    "item, why",
    [
        ("a string", "not an object"),
        (["token", "x"], "not an object"),
        (None, "not an object"),
        (42, "not an object"),
        ({}, "unexpected members"),
        ({"token": "x", "url": "y"}, "unexpected members"),
        ({"number": A}, "unexpected members"),
        ({"number": A, "code": "x", "extra": 1}, "unexpected members"),
        ({"error": "证书真实有效", "detail": "x"}, "unexpected members"),  # only the page carries these
        ({"token": 5}, "non-empty string"),
        ({"token": ""}, "non-empty string"),
        ({"url": ["x"]}, "non-empty string"),
        ({"token": "A" * 5001}, "longer than 5000"),
        ({"number": 6540040710000014, "code": "x"}, "must be strings"),
        ({"number": A, "code": "X" * 41}, "longer than 40"),
        ({"number": A, "code": " "}, "must not be empty"),
        ({"number": "6540040710000015", "code": "ABCDEFGHJKLM"}, "bad certificate number"),
        ({"number": "6540040710009991", "code": "ABCDEFGHJKLM"}, "not in the register"),
        ({"number": A, "code": "ABCD EFGH JKLM"}, "wrong verification code"),
    ],
)
def test_a_malformed_item_is_a_result_whose_format_check_failed(batch, item, why):
    r = post(batch.client(), {"items": [{"token": batch.a["token"]}, item, {"token": batch.a["token"]}]})
    conforms(r, 200)
    first, bad, last = r.get_json()["results"]
    assert first["valid"] and last["valid"]
    assert format_failed(bad), bad
    assert why in bad["checks"][0]["detail"] and re.search(r"[\u4e00-\u9fff]", bad["checks"][0]["message"])
    assert r.get_json()["summary"]["not_valid"] == 1


def test_a_wrong_code_is_logged_like_the_lookup_page_s(batch, caplog):
    post(batch.client(), {"items": [{"number": A, "code": "WRONGCODE000"}]})
    assert any("wrong 查验码" in r.getMessage() and A in r.getMessage() for r in caplog.records)


def test_wrong_codes_in_batches_are_capped_as_on_the_lookup_page_and_then_no_code_is_tried(batch):
    """A batch must not guess 查验码 faster than the lookup page: wrong codes
    count against its 30 a minute (right ones do not: a round's applicants
    all have theirs). Past that, not even the right code is tried, which
    would tell a guesser it was right; other clients are not affected."""
    c, right = batch.client(), batch.a["check_code"]
    ok = post(c, {"items": [{"number": A, "code": right}] * 40}).get_json()["summary"]
    assert ok["valid"] == 40  # a committee's 40 right codes: no cap
    wrong = [{"number": A, "code": f"WRONG{i:07d}"} for i in range(30)]
    results = post(c, {"items": wrong}).get_json()["results"]
    assert all("wrong verification code" in r["checks"][0]["detail"] for r in results)
    after = post(c, {"items": [{"number": A, "code": right}, {"token": batch.a["token"]}]}).get_json()
    closed, token = after["results"]
    assert not closed["valid"] and "attempts reached the limit" in closed["checks"][0]["detail"]
    assert token["valid"]  # a token needs no code: still verified
    page = c.get(f"/verify?no={A}&code={right}", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert page.status_code == 429  # the lookup page shares the count
    other = post(c, {"items": [{"number": A, "code": right}]}, client="10.0.0.9").get_json()
    assert other["summary"]["valid"] == 1


@pytest.mark.parametrize(
    "kw, error",
    [
        ({"data": "not json", "content_type": "text/plain"}, "bad_request"),
        ({"data": "{not json", "content_type": "application/json"}, "bad_request"),
        ({"data": "[" * 100_000, "content_type": "application/json"}, "bad_request"),
        ({"json": ["x"]}, "bad_request"),
        ({"json": {}}, "bad_request"),
        ({"json": {"items": {"token": "x"}}}, "bad_request"),
        ({"json": {"items": "x"}}, "bad_request"),
        ({"json": {"items": [{"token": "x"}] * 501}}, "too_many_items"),
        ({"json": {"items": [], "at": "2029-13-45"}}, "bad_date"),
        ({"json": {"items": [], "at": "tomorrow"}}, "bad_date"),
        ({"json": {"items": [], "at": 20290101}}, "bad_date"),
        # a lone surrogate, which the answer quotes back and UTF-8 cannot carry
        ({"data": '{"items": [], "at": "\\ud800"}', "content_type": "application/json"}, "bad_date"),
    ],
)
def test_whole_request_errors_are_400s_in_the_api_s_error_shape(batch, kw, error):
    r = batch.client().post("/api/v1/verify/batch", **kw)
    conforms(r, 400)
    body = r.get_json()
    assert body["error"] == error and re.search(r"[\u4e00-\u9fff]", body["message"]) and body["detail"]
    if error == "bad_date":
        assert (
            body["message"].startswith("日期格式应为 YYYY-MM-DD")
            and body["detail"] == "at must be YYYY-MM-DD"
        )


def test_text_utf8_cannot_carry_is_quoted_back_escaped_not_a_500(batch):
    """JSON may spell a lone surrogate ("\\udfff"); an item that names it
    is a result like any malformed item, its answer escaped JSON."""
    body = '{"items": [{"\\ud800": 1}, {"token": "\\udfff"}]}'
    r = batch.client().post("/api/v1/verify/batch", data=body, content_type="application/json")
    conforms(r, 200)
    results = r.get_json()["results"]
    assert [x["outcome"] for x in results] == ["not_valid", "not_valid"]
    assert "\\ud800" in r.get_data(as_text=True)


def test_500_items_are_allowed_and_an_empty_batch_is_an_empty_answer(batch):
    c = batch.client()
    r = post(c, {"items": [{"token": batch.a["token"]}] * 500})
    conforms(r, 200)
    assert r.get_json()["summary"]["valid"] == 500
    r = post(c, {"items": []}, client="10.0.0.2")
    conforms(r, 200)
    assert r.get_json() == {"results": [], "summary": dict.fromkeys(OUTCOMES, 0)}


def test_each_item_counts_against_the_single_api_s_rate_limit(batch):
    """600 verifications a minute per client address, single GETs and batch
    items together: a batch the budget cannot cover is refused whole, says
    how many are left, and counts nothing."""
    c = batch.client()
    junk = [{"token": "x"}]
    conforms(post(c, {"items": junk * 500}, client="10.0.0.1"), 200)
    r = post(c, {"items": junk * 101}, client="10.0.0.1")
    conforms(r, 429)
    assert r.get_json()["error"] == "rate_limited" and "100 left" in r.get_json()["detail"]
    assert "还可查验 100 项" in r.get_json()["message"]
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    conforms(post(c, {"items": junk * 99}, client="10.0.0.1"), 200)  # the refused batch counted nothing
    single = c.get("/api/v1/verify?token=x", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert single.status_code == 400  # the 600th verification of the minute
    over = c.get("/api/v1/verify?token=x", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert over.status_code == 429 and b"600 per 1 minute" in over.data  # the same count
    conforms(post(c, {"items": junk}, client="10.0.0.1"), 429)
    conforms(post(c, {"items": junk * 500}, client="10.0.0.3"), 200)  # another client is not held back
    # and the other way round: single GETs first
    for _ in range(550):
        c.get("/api/v1/verify?token=x", environ_base={"REMOTE_ADDR": "10.0.0.4"})
    conforms(post(c, {"items": junk * 51}, client="10.0.0.4"), 429)
    conforms(post(c, {"items": junk * 50}, client="10.0.0.4"), 200)


def test_an_unreachable_register_is_a_503(batch, monkeypatch):
    from verifier.web import create_app as create_verifier

    dead = create_verifier("postgresql://postgres@127.0.0.1:9/test", KEYS_TTL=0)
    r = dead.test_client().post("/api/v1/verify/batch", json={"items": [{"token": batch.a["token"]}]})
    conforms(r, 503)
    assert r.headers["Retry-After"] == "30"


# -- the page -------------------------------------------------------------------


def upload(c, data: dict, client="127.0.0.1", status=200):
    r = c.post(
        "/verify/batch", data=data, content_type="multipart/form-data", environ_base={"REMOTE_ADDR": client}
    )
    assert r.status_code == status, r.get_data(as_text=True)[:2000]
    return r


def table(html: str) -> list[dict]:
    """The result table's rows: outcome code, and each cell's text."""
    out = []
    for outcome, cells in re.findall(r'<tr class="\w+" data-outcome="(\w+)">(.*?)</tr>', html, re.S):
        texts = [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        out.append({"outcome": outcome, "cells": [" ".join(t) for t in texts]})
    return out


def carried(html: str) -> dict:
    import html as htmllib

    return {
        "at": re.search(r'name="at" value="([^"]*)"', html).group(1),
        "items": htmllib.unescape(re.search(r'name="items" value="([^"]*)"', html).group(1)),
    }


def sheet_csv(header: list[str], rows: list[list[str]], encoding="utf-8-sig") -> io.BytesIO:
    import csv

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return io.BytesIO(out.getvalue().encode(encoding))


def sheet_xlsx(header: list[str], rows: list[list]) -> io.BytesIO:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    return out


def test_the_lookup_page_and_the_front_door_lead_to_the_batch_page(batch):
    c = batch.client()
    assert 'href="/verify/batch"' in c.get("/verify").get_data(as_text=True)
    assert 'href="/verify/batch"' in c.get("/").get_data(as_text=True)
    page = c.get("/verify/batch").get_data(as_text=True)
    assert 'name="sheet"' in page and 'name="pdfs" multiple' in page and 'type="date" name="at"' in page
    from verifier.clock import today_in_china

    assert f'value="{today_in_china().isoformat()}"' in page


def test_a_sheet_of_numbers_and_codes_typed_by_hand(batch):
    code = batch.a["check_code"]
    rows = [
        ["654004-07-1-000001-4".translate(FULL_WIDTH), " ".join([code[:4], code[4:8], code[8:]]).lower()],
        [B, show(batch.run, B)["check_code"]],
        ["", ""],  # blank: skipped
        [C, batch.c["check_code"]],
        [A, "WRONGCODE000"],
        ["6540040710000015", code],  # a bad check character
        [A, ""],
        ["", "", "以下为补报人员"],  # a line of text: no certificate
    ]
    html = upload(
        batch.client(),
        {"sheet": (sheet_csv(["证书编号", "查验码", "姓名"], rows), "名单.csv"), "at": "2027-06-01"},
    ).get_data(as_text=True)
    got = table(html)
    assert [g["outcome"] for g in got] == [
        "valid",
        "valid",
        "revoked",
        "not_valid",
        "not_valid",
        "not_valid",
        "not_valid",
    ]
    assert [g["cells"][1] for g in got] == [f"第 {n} 行" for n in (2, 3, 5, 6, 7, 8, 9)]
    first = got[0]["cells"]
    assert first[2] == "真实有效 valid" and first[3] == "热依拉·阿不都热合曼"
    assert first[4] == "654004-07-1-000001-4 第 1 版" and first[5] == "周期进行中" and first[6] == "90.00"
    assert "2024" in first[7]  # the register's summary: 2024 short of the yearly rule
    assert (
        got[1]["cells"][4].endswith("第 2 版") and "总学分 差 60.00" in got[1]["cells"][7]
    )  # B, now v2: short
    assert "撤销" in got[2]["cells"][8] and got[2]["cells"][3] == "李娜"
    assert "查验码不正确" in got[3]["cells"][8]
    assert "证书编号无效" in got[4]["cells"][8]
    assert "缺少查验码" in got[5]["cells"][8] and "不是证书" in got[6]["cells"][8]
    assert "查验完成：共 7 项" in html and "真实有效 2" in html


def test_a_sheet_of_urls_in_xlsx_and_a_gbk_csv_without_a_header(batch):
    urls = [batch.a["url"], batch.b_old["url"].lower(), "  " + batch.c["token"] + " ", "乱码 =1+1", 12345]
    html = upload(
        batch.client(),
        {
            "sheet": (
                sheet_xlsx(["序号", "查验网址（二维码内容）"], [[i, u] for i, u in enumerate(urls)]),
                "a.xlsx",
            )
        },
    ).get_data(as_text=True)
    assert [g["outcome"] for g in table(html)] == ["valid", "superseded", "revoked", "not_valid", "not_valid"]
    assert "已于" in table(html)[1]["cells"][8]  # superseded: when and by which version
    # Chinese Excel's "CSV" (GB18030), no header: a column of URLs
    text = "\r\n".join(["查验链接：" + batch.a["url"], batch.c["url"]]).encode("gb18030")
    html = upload(batch.client(), {"sheet": (io.BytesIO(text), "b.csv")}).get_data(as_text=True)
    assert [g["outcome"] for g in table(html)] == ["valid", "revoked"]


@pytest.mark.parametrize(
    "data, name, words",
    [
        (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old.xls", "旧版 Excel"),
        (b"PK\x03\x04 not a zip", "x.xlsx", "已损坏"),
        ("姓名,学校\n王芳,一小\n".encode(), "x.csv", "未找到表头"),
        ("证书编号\n6540040710000014\n".encode(), "x.csv", "没有「查验码」列"),
        (b"", "empty.csv", "表格是空的"),
        (b"\x00\x01\x02binary", "x.csv", "不是表格文件"),
        (("查验网址\n" + "x\n" * 501).encode(), "big.csv", "超过 500 行"),
    ],
)
def test_a_file_that_is_no_sheet_of_applicants_is_refused_with_a_reason(batch, data, name, words):
    r = upload(batch.client(), {"sheet": (io.BytesIO(data), name)}, status=400)
    assert words in r.get_data(as_text=True)


def test_an_xlsx_bomb_is_refused_on_its_zip_directory(batch):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<x/>")
        z.writestr("xl/worksheets/sheet1.xml", b" " * 40_000_000)
    r = upload(batch.client(), {"sheet": (io.BytesIO(bomb.getvalue()), "bomb.xlsx")}, status=400)
    assert "解压后过大" in r.get_data(as_text=True)


def test_several_pdfs_at_once_and_a_file_that_is_no_pdf(batch, tmp_path):
    batch.run("pdf", A, "-o", str(tmp_path / "a.pdf"))
    batch.run("pdf", B, "-o", str(tmp_path / "b.pdf"))
    batch.run("revoke", A, "--reason", "测试撤销")  # after A's PDF was printed
    files = [
        (io.BytesIO((tmp_path / "b.pdf").read_bytes()), "b.pdf"),
        (io.BytesIO(b"hello"), "notes.txt"),
        (io.BytesIO(b"%PDF-1.7\n\x00garbage"), "broken.pdf"),
        (io.BytesIO((tmp_path / "a.pdf").read_bytes()), "a.pdf"),
    ]
    html = upload(batch.client(), {"pdfs": files}).get_data(as_text=True)
    got = table(html)
    assert [g["outcome"] for g in got] == ["valid", "not_valid", "not_valid", "revoked"]
    assert [g["cells"][1] for g in got] == ["b.pdf", "notes.txt", "broken.pdf", "a.pdf"]
    assert "不是 PDF 文件" in got[1]["cells"][8] and "PDF" in got[2]["cells"][8]
    assert "测试撤销" in got[3]["cells"][8]
    # the hidden form carries the PDFs as their tokens, the others as their reasons
    items = json.loads(carried(html)["items"])
    assert items[0] == ["b.pdf", {"token": show(batch.run, B)["token"]}]
    assert items[3] == ["a.pdf", {"token": batch.a["token"]}]
    assert items[1][1]["error"] == "不是 PDF 文件"


def test_a_pdf_changed_after_signing_stays_not_valid_in_the_downloads(batch, tmp_path):
    from openpyxl import load_workbook

    batch.run("pdf", A, "-o", str(tmp_path / "a.pdf"))
    data = bytearray((tmp_path / "a.pdf").read_bytes())
    data[data.index(b"stream") + 20] ^= 0x01  # inside the signed range: its token still verifies
    html = upload(batch.client(), {"pdfs": [(io.BytesIO(bytes(data)), "a.pdf")]}).get_data(as_text=True)
    (row,) = table(html)
    assert row["outcome"] == "not_valid" and "签章后被修改" in row["cells"][8]
    (item,) = json.loads(carried(html)["items"])
    assert "token" not in item[1] and "签章后被修改" in item[1]["error"]
    r = batch.client().post("/verify/batch/report.xlsx", data=carried(html))
    ws = load_workbook(io.BytesIO(r.data)).worksheets[0]
    assert ws.cell(2, 4).value == "not_valid" and "签章后被修改" in ws.cell(2, 13).value


def test_too_many_pdfs_or_items_are_refused_before_anything_is_counted(batch):
    c = batch.client()
    many = [(io.BytesIO(b"%PDF-"), f"{i}.pdf") for i in range(201)]
    assert "最多上传 200 份" in upload(c, {"pdfs": many}, status=400).get_data(as_text=True)
    assert "请选择" in upload(c, {"at": "2027-01-01"}, status=400).get_data(as_text=True)
    r = upload(c, {"sheet": (sheet_csv(["查验网址"], [["x"]]), "a.csv"), "at": "2027-13-01"}, status=400)
    assert "日期格式应为 YYYY-MM-DD" in r.get_data(as_text=True)


def test_the_upload_limit_is_the_batch_s_own(batch):
    """Above the service's 12 MB for one upload (200 PDFs are more), below
    48 MB; over it, the batch page says so."""
    c = batch.client()

    def pdfs(*sizes: int) -> bytes:
        """A multipart body of junk PDFs, made here: the test client's own
        encoder spools a large body to a file it leaves open."""
        parts = [
            b'--B\r\nContent-Disposition: form-data; name="pdfs"; filename="%d.pdf"\r\n\r\n%%PDF-' % i
            + b"A" * size
            + b"\r\n"
            for i, size in enumerate(sizes)
        ]
        return b"".join(parts) + b"--B--\r\n"

    r = c.post("/verify/batch", data=pdfs(*[5 * 2**20] * 3), content_type="multipart/form-data; boundary=B")
    assert r.status_code == 200
    assert [g["outcome"] for g in table(r.get_data(as_text=True))] == ["not_valid"] * 3
    # refused on its Content-Length, before a byte is read
    r = c.post("/verify/batch", data=pdfs(49 * 2**20), content_type="multipart/form-data; boundary=B")
    assert r.status_code == 413
    assert "合计过大（上限 48 MB）" in r.get_data(as_text=True) and 'name="pdfs"' in r.get_data(as_text=True)


def test_the_page_counts_each_item_against_the_same_limit(batch):
    c = batch.client()
    sheet = sheet_csv(["查验网址"], [["x"]] * 500)
    upload(c, {"sheet": (sheet, "a.csv")}, client="10.0.0.7")
    r = upload(c, {"sheet": (sheet_csv(["查验网址"], [["x"]] * 101), "b.csv")}, client="10.0.0.7", status=429)
    text = r.get_data(as_text=True)
    assert "查验过于频繁" in text and "还可查验 100 项" in text and 'name="sheet"' in text
    r = c.get("/api/v1/verify?token=x", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert r.status_code == 400  # 501 of 600 spent: the API still answers
    assert post(c, {"items": [{"token": "x"}] * 100}, client="10.0.0.7").status_code == 429


# -- the downloads -----------------------------------------------------------------


def _result_page(batch, rows, at="2027-06-01", client="127.0.0.1"):
    return upload(
        batch.client(),
        {"sheet": (sheet_csv(["证书编号", "查验码", "查验网址"], rows), "s.csv"), "at": at},
        client,
    ).get_data(as_text=True)


def test_the_xlsx_download_has_a_frozen_filtered_header_and_no_live_formula(batch):
    from openpyxl import load_workbook

    rows = [
        ["", "", batch.a["url"]],
        ["", "", batch.b_old["token"]],
        [C, batch.c["check_code"], ""],
        ["", "", '=HYPERLINK("http://evil.example","点我")'],
        ["", "", "@SUM(1+1)"],
        ["", "", "-2+3"],
    ]
    form = carried(_result_page(batch, rows))
    r = batch.client().post("/verify/batch/report.xlsx", data=form)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in r.headers["Content-Disposition"] and r.headers["Cache-Control"] == "no-store"
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb.worksheets[0]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:M{len(rows) + 1}"
    assert ws.max_row == len(rows) + 1
    header = [c.value for c in ws[1]]
    assert header[:4] == ["序号", "来源", "查验结果", "结果代码"] and "原因" in header
    assert [ws.cell(i, 4).value for i in range(2, 8)] == [
        "valid",
        "superseded",
        "revoked",
        *["not_valid"] * 3,
    ]
    assert ws.cell(2, 5).value == "热依拉·阿不都热合曼" and ws.cell(2, 11).value == 90
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
    # the sheet's own cell is echoed nowhere as a formula: its reason is ours
    refs = [ws.cell(i, 2).value for i in range(2, 8)]
    assert refs == [f"第 {n} 行" for n in range(2, 8)]
    assert wb["查验信息"]["B1"].value == "2027-06-01"


def test_a_cell_that_would_be_a_formula_is_written_as_quoted_text():
    from openpyxl import load_workbook

    from verifier.batch import Row
    from verifier.sheets import write_xlsx
    from verifier.verify import format_failed

    rows = [Row(1, "=1+1", format_failed("x", "y")), Row(2, "+cmd|' /C calc'!A0", format_failed("x", "y"))]
    ws = load_workbook(io.BytesIO(write_xlsx(rows, [("生成", "@now")]))).worksheets[0]
    for r in (2, 3):
        cell = ws.cell(r, 2)
        assert cell.data_type == "s" and cell.value.startswith(("=", "+")) and cell.quotePrefix


def test_the_pdf_report_has_a_qr_code_per_certificate_that_re_verifies_it(batch, tmp_path):
    import zxingcpp
    from PIL import Image

    rows = [
        ["", "", batch.a["url"]],
        ["", "", "garbage"],
        [C, batch.c["check_code"], ""],
        ["", "", batch.b_old["url"]],
    ]
    form = carried(_result_page(batch, rows))
    r = batch.client().post("/verify/batch/report.pdf", data=form)
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF-")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(r.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "核验报告" in text.replace(" ", "") and "2027-06-01" in text and "HTTP://127.0.0.1:5000" in text
    assert "热依拉·阿不都热合曼" in text and "李娜" in text
    subprocess.run(["pdftoppm", "-r", "300", "-png", str(pdf), str(tmp_path / "page")], check=True)
    found = []
    for page in sorted(tmp_path.glob("page*.png")):
        with Image.open(page) as img:
            found += [x.text for x in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)]
    assert sorted(found) == sorted([batch.a["url"], batch.c["url"], batch.b_old["url"]])


def test_downloads_verify_again_and_count_again(batch):
    page = _result_page(batch, [["", "", batch.a["url"]]] * 300, client="10.0.0.8")
    form = carried(page)
    c = batch.client()
    ok = c.post("/verify/batch/report.xlsx", data=form, environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert ok.status_code == 200  # 600 of 600
    over = c.post("/verify/batch/report.pdf", data=form, environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert over.status_code == 429 and "查验过于频繁" in over.get_data(as_text=True)
    # the download reads the register again: a certificate revoked since reads revoked
    batch.run("revoke", A, "--reason", "评审后撤销")
    r = c.post("/verify/batch/report.xlsx", data={**form, "items": form["items"]})
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(r.data)).worksheets[0]
    assert ws.cell(2, 4).value == "revoked"


@pytest.mark.parametrize(
    "items",
    ["", "not json", "{}", "[]", json.dumps([["x", {"token": "x"}]] * 501), "[" * 50_000],
)
def test_a_download_with_damaged_items_is_refused(batch, items):
    r = batch.client().post("/verify/batch/report.xlsx", data={"items": items, "at": "2027-06-01"})
    assert r.status_code == 400 and "请" in r.get_data(as_text=True)


def test_carried_items_are_read_as_items_and_claims_in_them_change_nothing(batch):
    items = [
        ["第 2 行", {"error": "证书真实有效", "detail": "forged claim"}],
        ["第 3 行", {"token": batch.a["token"]}],
        "not a pair",
        ["第 5 行", {"number": A, "code": batch.a["check_code"]}],
    ]
    r = batch.client().post(
        "/verify/batch/report.xlsx", data={"items": json.dumps(items), "at": "2027-06-01"}
    )
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(r.data)).worksheets[0]
    assert [ws.cell(i, 4).value for i in range(2, 6)] == ["not_valid", "valid", "not_valid", "valid"]
    assert ws.cell(2, 3).value == "无效"  # whatever the carried reason says
    assert ws.cell(4, 2).value == "第 3 项"


def test_the_verifier_alone_serves_the_batch_without_the_issuer(batch, db_url):
    import sys

    code = f"""
import sys, json
from verifier.web import create_app
app = create_app({db_url!r}, KEYS_TTL=0)
c = app.test_client()
r = c.post("/api/v1/verify/batch", json={{"items": [{{"token": {batch.a["token"]!r}}}]}})
page = c.get("/verify/batch")
assert not [m for m in sys.modules if m == "issuer" or m.startswith("issuer.")], "issuer imported"
print(json.dumps([r.status_code, r.json["summary"]["valid"], page.status_code]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [200, 1, 200]


# -- reading sheets, without the service ------------------------------------------


def test_english_headers_and_a_row_far_down_a_declared_dimension_are_read():
    import re as regex

    from openpyxl import Workbook

    from verifier.sheets import read_sheet

    rows = read_sheet(b"Certificate-Number,Check_Code\n6540040710000014,abcd-efgh-jklm\n", "en.csv")
    assert rows == [("第 2 行", rows[0][1])] and rows[0][1].number == "6540040710000014"
    wb = Workbook()
    ws = wb.active
    ws["A1"], ws["A1048576"] = "URL", "HTTP://X/V/ABC"
    out = io.BytesIO()
    wb.save(out)
    data = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    padded = io.BytesIO()
    with zipfile.ZipFile(padded, "w") as z:  # a sheet that says it is 32 columns by a million rows
        for part in data.infolist():
            xml = data.read(part.filename)
            if part.filename.endswith("sheet1.xml"):
                xml = regex.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:AF1048576"', xml)
            z.writestr(part, xml)
    ((ref, item),) = read_sheet(padded.getvalue(), "far.xlsx")
    assert ref == "第 1048576 行" and item.text == "HTTP://X/V/ABC"
