"""A teacher on her phone (375×812, an iPhone's screen): after the
one-time code and her own new password, her page says first what she is
still missing, with amounts, and shows her many training records as a
short list, one small card each, not as a table too narrow for its four
columns. With ECERT_SCREENSHOT_DIR=docs, docs/teacher-phone.png is made
again."""

from __future__ import annotations

import csv
import re

from tests.builders import PROJECT_HEADER, RECORD_HEADER, record_row

B = "6540040710000022"  # 王芳: 10 elective credits (the bureau fixture), and the records below
NEW_PASSWORD = "手机上的新密码-2026"
IPHONE = dict(
    viewport={"width": 375, "height": 812},
    device_scale_factor=2,
    is_mobile=True,
    has_touch=True,
    locale="zh-CN",
    timezone_id="Asia/Shanghai",
)
MANY = 40


def _many_records(live, bureau, files) -> None:
    """40 short school-based courses with names as long as a bureau's."""
    codes = [f"HEGS-2025-{i:04d}" for i in range(1, MANY + 1)]
    projects = [
        [
            code,
            f"霍尔果斯市2025年中小学教师信息技术应用能力提升专题研修（第{i}期）",
            "校级",
            "校本",
            "校本",
            "4",
            "2025",
            "是",
        ]
        for i, code in enumerate(codes, 1)
    ]
    live.run("projects", "import", str(files.csv("many-p.csv", PROJECT_HEADER, projects)))
    rows = [
        record_row(bureau[1], code, done=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}")
        for i, code in enumerate(codes)
    ]
    live.run("records", "import", str(files.csv("many-r.csv", RECORD_HEADER, rows)))


def _code(live, tmp_path) -> str:
    out = tmp_path / "codes.csv"
    live.run("passwords", "issue", "-o", str(out))
    with out.open(encoding="utf-8-sig") as f:
        return {row["证书编号"]: row["一次性登录码"] for row in csv.DictReader(f)}[B]


def test_on_a_phone_her_page_says_what_is_missing_and_lists_her_records_compactly(
    live, bureau, chromium, files, tmp_path, screenshot_path
):
    _many_records(live, bureau, files)
    live.run("issue")
    code = _code(live, tmp_path)
    context = chromium.new_context(**IPHONE)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        page.goto(live.base + "/teacher/login")
        page.fill("input[name=account]", B)
        page.fill("input[name=password]", code)
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/teacher/password$"))
        assert page.locator("input[name=old]").count() == 0  # the code was proven a moment ago
        page.fill("input[name=new]", NEW_PASSWORD)
        page.fill("input[name=again]", NEW_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/teacher/$"))

        # what is missing, with amounts, is the first thing under her name
        missing = page.locator("#standing #missing li").all_inner_texts()
        assert missing[0] == "州级及以上·公共课还差 5.00 学分", missing
        assert page.locator("#standing").bounding_box()["y"] < 812  # on the first screen
        # short rows of the credit table say so in words, not by colour alone
        short = page.locator("#credits tr.short").first
        assert short.locator("td.st").inner_text() == "✘ 差 5.00"

        # the records: the table is not shown, the list is, one card per record
        assert not page.locator("table#records").is_visible()
        cards = page.locator("#record-list li")
        assert page.locator("#record-list").is_visible() and cards.count() == MANY + 1
        first = cards.nth(0).inner_text()
        assert "霍尔果斯市2025年中小学教师信息技术应用能力提升专题研修" in first and "学分" in first
        assert re.search(r"\d{4}-\d\d-\d\d", first)
        heights = page.evaluate(
            "() => [...document.querySelectorAll('#record-list li')].map(li => li.getBoundingClientRect().height)"
        )
        assert max(heights) < 110, heights  # a few lines each: a card, not a column of wrapped cells
        listed = page.locator("#record-list").bounding_box()["height"]
        assert listed < MANY * 100, listed
        assert page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"
        )  # no sideways scroll
        assert not errors, errors
        page.screenshot(path=str(screenshot_path.with_name("teacher-phone.png")))
    finally:
        context.close()
