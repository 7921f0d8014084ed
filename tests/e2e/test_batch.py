"""End to end, as a title-review committee uses the batch page: a member
uploads the round's sheet of 50 applicants (XLSX, made here with openpyxl)
holding genuine, updated, revoked, forged and tampered certificates and
rows that are none; reads the table; downloads the XLSX and the printable
核验报告, whose QR codes, scanned off the rendered pages, are the
certificates' own verification URLs."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest
import zxingcpp
from openpyxl import Workbook, load_workbook
from PIL import Image

from tests.builders import RECORD_HEADER, record_row
from tests.e2e.conftest import Phone
from tests.helpers import active_kid, forge, show
from verifier.token import TokenError, from_base32, parse

A, B, C = "6540040710000014", "6540040710000022", "6540040710000030"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _tampered(token: str) -> str:
    i = len(token) // 2  # inside the signed payload
    return token[:i] + BASE32[(BASE32.index(token[i]) + 1) % 32] + token[i + 1 :]


def _qr_url(base: str, text: str) -> str | None:
    """The verification URL a line of the report encodes for a row holding
    `text`, if the row holds a token at all."""
    token = text.rsplit("/V/", 1)[-1].strip().upper()
    try:
        parse(from_base32(token))
    except TokenError:
        return None
    return f"{base}/V/{token}"


@pytest.mark.slow
def test_a_committee_verifies_a_round_of_50_applicants_and_downloads_both_files(
    live, bureau, chromium, files, tmp_path, screenshot_path
):
    run = live.run
    run("issue")
    b_printed = show(run, B)  # the copy the applicant printed, version 1
    run("records", "import", str(files.csv("more.csv", RECORD_HEADER, [record_row(bureau[1], "X-PRO")])))
    run("issue")  # B: version 2
    run("revoke", C, "--reason", "重复登记")
    a, c = show(run, A), show(run, C)
    forged = forge(
        tmp_path / "keys", active_kid(run), a["token"], parse(from_base32(a["token"])).claims.issued_at
    )
    # (kind, outcome, 证书编号, 查验码, 查验网址)
    kinds = [
        ("genuine url", "valid", "", "", a["url"]),
        ("genuine by hand", "valid", "654004-07-1-000001-4", a["check_code"].lower(), ""),
        ("updated", "superseded", "", "", b_printed["url"]),
        ("revoked", "revoked", C, c["check_code"], ""),
        ("forged", "not_valid", "", "", f"{live.base}/V/{forged}"),
        ("tampered", "not_valid", "", "", f"{live.base}/V/{_tampered(a['token'])}"),
        ("garbage", "not_valid", "", "", "见附件"),
        ("formula", "not_valid", "", "", '=HYPERLINK("http://evil.example","x")'),
        ("wrong code", "not_valid", A, "ABCD EFGH JKLM", ""),
        ("text only", "not_valid", "", "", ""),
    ]
    rows = [kinds[i % len(kinds)] for i in range(50)]
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "申报人", "证书编号", "查验码", "查验网址"])
    for i, (kind, _, number, code, url) in enumerate(rows, 1):
        ws.append([i, kind if kind != "text only" else "（此人未提交证书）", number, code, url])
    sheet = tmp_path / "评审名单.xlsx"
    wb.save(sheet)

    context = chromium.new_context(accept_downloads=True, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        browser = Phone(context.new_page())
        page = browser.page
        page.goto(f"{live.base}/verify", wait_until="load")
        page.click("#to-batch a")
        page.wait_for_load_state("load")
        assert page.url.endswith("/verify/batch")
        page.set_input_files("input[name=sheet]", str(sheet))
        page.fill("input[name=at]", "2027-06-01")
        page.click("#batch-form button[type=submit]")
        page.wait_for_load_state("load")

        assert "查验完成：共 50 项" in page.locator("#verdict").inner_text()
        outcomes = page.locator("#batch tbody tr").evaluate_all("rs => rs.map(r => r.dataset.outcome)")
        assert outcomes == [outcome for _, outcome, *_ in rows]
        first = page.locator("#batch tbody tr").first.locator("td")
        assert (
            first.nth(2).inner_text().startswith("真实有效")
            and first.nth(3).inner_text() == "热依拉·阿不都热合曼"
        )
        forged_row = page.locator("#batch tbody tr").nth(4).locator("td")
        assert "不是登记系统签发的" in forged_row.nth(8).inner_text() and forged_row.nth(3).inner_text() == ""
        assert "证书已被撤销" in page.locator("#batch tbody tr").nth(3).locator("td").nth(8).inner_text()
        summary = page.locator("#verdict").inner_text()
        assert (
            "真实有效 10" in summary
            and "已更新 5" in summary
            and "已撤销 5" in summary
            and "无效 30" in summary
        )

        page.screenshot(path=str(screenshot_path.with_name("verifier-batch.png")), full_page=True)
        with page.expect_download() as xlsx_download:
            page.click("#download-xlsx")
        xlsx = tmp_path / "result.xlsx"
        xlsx_download.value.save_as(xlsx)
        with page.expect_download() as pdf_download:
            page.click("#download-pdf")
        report = tmp_path / "report.pdf"
        pdf_download.value.save_as(report)
        browser.assert_local_and_quiet()
    finally:
        context.close()

    book = load_workbook(xlsx)
    table = book.worksheets[0]
    assert table.freeze_panes == "A2"
    assert table.auto_filter.ref == "A1:M51"
    assert table.max_row == 51
    assert [table.cell(r, 4).value for r in range(2, 52)] == [outcome for _, outcome, *_ in rows]
    for row in table.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
    assert book["查验信息"]["B1"].value == "2027-06-01"

    pages = tmp_path / "pages"
    pages.mkdir()
    subprocess.run(["pdftoppm", "-r", "300", "-png", str(report), str(pages / "p")], check=True)
    scanned: Counter[str] = Counter()
    for png in sorted(pages.glob("*.png")):
        with Image.open(png) as img:
            scanned.update(r.text for r in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode))
    expected = Counter(
        url
        for kind, _, number, _, text in rows
        if (
            url := (
                a["url"]
                if kind == "genuine by hand"
                else c["url"]
                if kind == "revoked"
                else _qr_url(live.base, text)
            )
        )
    )
    assert scanned == expected
    assert scanned[a["url"]] == 10 and scanned[b_printed["url"]] == 5 and scanned[c["url"]] == 5
    text = subprocess.run(["pdftotext", str(report), "-"], capture_output=True, text=True, check=True).stdout
    assert "核验报告" in text.replace(" ", "") and "2027-06-01" in text and live.base in text
    if screenshot_path.parent != tmp_path:  # ECERT_SCREENSHOT_DIR: the report's first page beside it
        (pages / "p-1.png").replace(screenshot_path.with_name("verifier-batch-report.png"))
