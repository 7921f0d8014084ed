"""The review queue's select-all and the audit log in a real browser at a
laptop's size: the auditor ticks the whole page from the table's header and
recognises it, then finds that decision in the audit log by actor, action
and date, and downloads the filtered log as CSV and XLSX, which read back
with csv and openpyxl as the page showed them. Screenshots of both pages
go to ECERT_SCREENSHOT_DIR or tmp_path, as in test_office.py."""

from __future__ import annotations

import csv
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from issuer.db import read_session, write_session
from issuer.ledger.importing.records import import_records
from issuer.models import Registration, Teacher
from issuer.office.audit_log import EXPORT_HEADER
from tests.builders import RECORD_HEADER, record_row
from tests.e2e.signin import office_sign_in
from verifier.clock import today_in_china
from verifier.numbers import CertificateNumber

SCHOOL = "6540040001"


_sign_in = office_sign_in


def _checked(page) -> list[bool]:
    return page.locator("input[name=record]").evaluate_all("boxes => boxes.map(b => b.checked)")


@pytest.mark.slow
def test_select_all_recognise_then_find_it_in_the_audit_log_and_export(
    live, bureau, laptop, files, tmp_path, shots
):
    base = live.base.lower()
    engine = live.app.extensions["ecert_engine"]
    live.run("issue")
    with read_session(engine) as s:
        wang = s.scalar(
            select(Registration.number)
            .join(Teacher, Teacher.id == Registration.teacher_id)
            .where(Teacher.name == "王芳")
        )
    live.run("revoke", wang, "--reason", "重复登记")  # by the command line, ECERT_ACTOR 测试员
    declared = files.csv(
        "declare.csv",
        RECORD_HEADER,
        [
            record_row(bureau[1], code, done="2025-09-01")
            for code in ("Z-PUB", "Z-PRO", "X-PUB", "X-PRO", "X-DIG")
        ],
    )
    with write_session(engine) as s:
        import_records(s, declared, school=SCHOOL)
    out = live.run("staff", "add", "aud-1", "--role", "auditor", "--name", "师训办审核员").stdout
    _sign_in(laptop, base, "aud-1", re.search(r"一次性密码：(\w+)", out).group(1))

    # the review queue: the header's checkbox ticks the page, the page button toggles it
    laptop.click("nav.tabs >> text=审核认定")
    laptop.click(".chip")
    assert laptop.locator("table.review tbody tr").count() == 5
    assert _checked(laptop) == [False] * 5
    laptop.check("#select-all")
    assert _checked(laptop) == [True] * 5
    assert laptop.locator("#selected-count").inner_text() == "已选 5 / 5 条"
    laptop.click("#select-page")  # all ticked: the button now clears the page
    assert _checked(laptop) == [False] * 5 and not laptop.locator("#select-all").is_checked()
    laptop.locator("input[name=record]").first.check()
    assert laptop.locator("#select-all").evaluate("box => box.indeterminate")
    laptop.click("#select-page")
    assert _checked(laptop) == [True] * 5 and laptop.locator("#select-all").is_checked()
    assert "整校认定（全部 5 条）" in laptop.locator("#decide-all").inner_text()
    laptop.screenshot(path=str(shots / "office-review-selected.png"), full_page=True)
    laptop.click("button:has-text('认定所选')")
    assert "已认定 5 条记录" in laptop.locator("main").inner_text()

    # the audit log: the decision, found by actor, action and Beijing date
    today = today_in_china()
    laptop.click("nav.tabs >> text=审计日志")
    laptop.select_option("select[name=actor]", "staff:aud-1")
    laptop.select_option("select[name=action]", "records-recognise")
    laptop.fill("input[name=since]", today.isoformat())
    laptop.fill("input[name=until]", today.isoformat())
    laptop.click("#audit-filter button[type=submit]")
    rows = laptop.locator("table.audit tbody tr")
    assert rows.count() == 1
    sentence = rows.first.locator(".sentence").inner_text()
    assert re.fullmatch(
        rf"{today} \d\d:\d\d 师训办审核员 认定了 霍尔果斯市第一小学 申报的 5 条培训记录：王芳 \S+、王芳 \S+、王芳 \S+等",
        sentence,
    ), sentence
    assert "共 1 条" in laptop.locator("#audit-summary").inner_text()
    laptop.screenshot(path=str(shots / "office-audit-filtered.png"), full_page=True)

    # the same filter a day earlier finds nothing
    yesterday = (today - timedelta(days=1)).isoformat()
    laptop.fill("input[name=since]", yesterday)
    laptop.fill("input[name=until]", yesterday)
    laptop.click("#audit-filter button[type=submit]")
    assert "没有符合条件的记录" in laptop.locator("main").inner_text()

    # the command line's revocation, by the teacher's name and printed number
    laptop.select_option("select[name=actor]", "cli")
    laptop.select_option("select[name=action]", "revoke")
    laptop.fill("input[name=since]", "")
    laptop.fill("input[name=until]", "")
    laptop.click("#audit-filter button[type=submit]")
    printed = CertificateNumber.parse(wang).printed
    assert (
        f"测试员（命令行） 撤销了 王芳 的证书 {printed} 第 1 版（原因：重复登记）"
        in laptop.locator("table.audit").inner_text()
    )

    # back to the decision; both exports carry exactly what the page shows
    laptop.select_option("select[name=actor]", "staff:aud-1")
    laptop.select_option("select[name=action]", "records-recognise")
    laptop.fill("input[name=since]", today.isoformat())
    laptop.click("#audit-filter button[type=submit]")
    with laptop.expect_download() as download:
        laptop.click("#export-csv")
    path = tmp_path / "audit.csv"
    download.value.save_as(path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == list(EXPORT_HEADER) and len(table) == 2
    row = dict(zip(table[0], table[1], strict=True))
    assert row["记录"] == sentence and row["操作人"] == "师训办审核员" and row["操作"] == "认定记录"
    assert row["操作人账号"] == "staff:aud-1" and row["对象"] == SCHOOL

    with laptop.expect_download() as download:
        laptop.click("#export-xlsx")
    path = tmp_path / "audit.xlsx"
    download.value.save_as(path)
    ws = load_workbook(path).active
    assert [c.value for c in ws[1]] == list(EXPORT_HEADER) and all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:K2"
    assert ws.max_row == 2 and [c.value for c in ws[2]][5] == sentence
    assert not laptop.errors, laptop.errors
