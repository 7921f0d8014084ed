"""The 查询 page's search box in a real browser at a laptop's size: the
bureau's staff finds a teacher by part of her name (a Uyghur name, typed
without its middle dot), by her ID number and by the certificate number
printed on her paper, and sees her."""

from __future__ import annotations

import json
import re

from tests.e2e.signin import office_sign_in
from verifier.numbers import CertificateNumber


def _sign_in_as_bureau_staff(page, live) -> None:
    out = live.run("staff", "add", "admin-1", "--role", "admin", "--name", "师训办管理员").stdout
    code = re.search(r"一次性密码：(\w+)", out).group(1)
    office_sign_in(page, live.base.lower(), "admin-1", code)


def _search(page, text: str) -> None:
    page.click("nav.tabs >> text=查询")
    page.fill("#search input[name=q]", text)
    page.click("#search button[type=submit]")


def test_the_bureau_finds_a_teacher_by_name_id_number_and_printed_number(live, bureau, laptop):
    uyghur, wang, li = bureau
    number = {
        idn: json.loads(live.run("credits", idn, "--json").stdout)["certificate_number"] for idn in bureau
    }
    _sign_in_as_bureau_staff(laptop, live)

    # part of a name, the middle dot left out: the teacher is a row of the table, her number a link
    _search(laptop, "热依拉阿不都")
    found = laptop.locator("#found table.teachers tbody tr")
    assert found.count() == 1
    assert "热依拉·阿不都热合曼" in found.inner_text()
    assert "已达要求" in found.inner_text() and uyghur not in laptop.content()  # her ID number masked
    laptop.click(f"#found >> text={CertificateNumber.parse(number[uyghur]).printed}")
    assert laptop.url.endswith(f"/office/teachers/{number[uyghur]}")

    # the whole ID number, lower-case or not: straight to her page, the ID number in no URL
    _search(laptop, wang)
    assert laptop.url.endswith(f"/office/teachers/{number[wang]}") and wang not in laptop.url
    assert "王芳" in laptop.locator("main").inner_text() and wang not in laptop.content()

    # the printed number, as a clerk types it off the paper with a full-width input method
    printed = CertificateNumber.parse(number[li]).printed
    _search(laptop, printed.translate(str.maketrans("0123456789-", "０１２３４５６７８９－")))
    assert laptop.url.endswith(f"/office/teachers/{number[li]}")
    assert "李娜" in laptop.locator("main").inner_text()

    # and a name nobody has
    _search(laptop, "不存在的人")
    assert "没有找到符合条件的教师" in laptop.locator("#found").inner_text()
    assert not laptop.errors, laptop.errors
