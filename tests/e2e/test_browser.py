"""End to end, as a committee member's phone uses it: a certificate is
issued and printed, its QR code is scanned off the page, and the link opens
the verifier in a real (headless) Chromium at a phone's size. Each outcome
says so in the banner: valid (with what is still short, with amounts),
updated (with what the current version certifies), revoked (when and why),
expired, forged with a leaked key, tampered; the page loads nothing from
elsewhere and logs no errors. With ECERT_SCREENSHOT_DIR=docs the phone's
screenshots of the docs/ folder are made again."""

from __future__ import annotations

import re
import subprocess

import pytest
import zxingcpp
from PIL import Image

from tests.helpers import active_kid, forge, show

A = "6540040710000014"  # 热依拉·阿不都热合曼: 90 credits, cycle in progress, valid until 2028-12-31
B = "6540040710000022"  # 王芳: 10 elective credits
HOLDER = "热依拉·阿不都热合曼"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
GREEN, RED = "rgb(30, 122, 52)", "rgb(170, 17, 17)"  # .banner.ok / .banner.no in ecert.css


def _scan(pdf, tmp_path) -> list[str]:
    """The QR codes a phone's camera would read off the printed page,
    approximated by a 150 dpi raster."""
    out = tmp_path / "scan"
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(out)], check=True)
    with Image.open(f"{out}.png") as img:
        # QR codes only: a table rule once read as a 1D barcode ("C7+B")
        return [r.text for r in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)]


def _banner_colour(phone) -> str:
    return phone.page.locator("#verdict").evaluate("e => getComputedStyle(e).backgroundColor")


@pytest.mark.slow
def test_the_scanned_qr_code_opens_a_genuine_verdict_on_a_phone(
    live, bureau, phone, tmp_path, screenshot_path
):
    live.run("issue")
    pdf = tmp_path / f"{A}.pdf"
    live.run("pdf", A, "-o", str(pdf))
    urls = _scan(pdf, tmp_path)
    assert urls == [show(live.run, A)["url"]]
    assert urls[0].startswith(live.base + "/V/")

    verdict = phone.open(urls[0])
    assert "✔ 证书真实有效" in verdict and "签名真实" in verdict
    assert phone.page.locator("main h1").inner_text() == HOLDER
    body = phone.page.locator("main").inner_text()
    assert "654004-07-1-000001-4" in body and "霍尔果斯市教育局" in body and "90.00" in body
    assert _banner_colour(phone) == GREEN  # the stylesheet loaded (and CSP let it)
    assert phone.fits_the_screen()
    phone.assert_local_and_quiet()
    phone.page.screenshot(path=str(screenshot_path), full_page=True)
    with Image.open(screenshot_path) as shot:
        assert shot.width == 390 * 2 and shot.height >= 844 * 2


def test_a_tampered_token_says_not_valid(live, bureau, phone):
    live.run("issue")
    url = show(live.run, A)["url"]
    base, token = url.split("/V/")
    i = len(token) // 2  # inside the signed payload
    swapped = BASE32[(BASE32.index(token[i]) + 1) % 32]
    tampered = token[:i] + swapped + token[i + 1 :]
    assert tampered != token and set(tampered) <= set(BASE32)

    verdict = phone.open(f"{base}/V/{tampered}")
    assert "✘ 证书无效" in verdict and "真实有效" not in verdict
    assert "签名" in verdict or "解码" in verdict
    assert _banner_colour(phone) == RED
    # the reason comes first, before anything the token claims
    assert phone.page.locator("main > :first-child").get_attribute("id") == "verdict"
    assert phone.fits_the_screen()
    phone.assert_local_and_quiet()


AMBER, GREY = "rgb(156, 87, 0)", "rgb(91, 102, 112)"  # .banner.updated / .banner.expired


def _lines(verdict: str) -> list[str]:
    return [line.strip() for line in verdict.splitlines() if line.strip()]


def test_a_revoked_certificate_says_revoked_with_the_date_and_reason(live, bureau, phone, screenshot_path):
    live.run("issue")
    live.run("revoke", A, "--reason", "测试撤销")
    verdict = phone.open(show(live.run, A)["url"])
    lines = _lines(verdict)
    assert lines[0] == "✘ 证书已撤销" and re.fullmatch(
        r"证书已被撤销（\d{4}-\d\d-\d\d：测试撤销）", lines[1]
    ), lines
    assert _banner_colour(phone) == RED
    assert phone.fits_the_screen()
    phone.assert_local_and_quiet()
    phone.page.screenshot(path=str(screenshot_path.with_name("verifier-phone-revoked.png")), full_page=True)


@pytest.mark.slow
def test_a_date_after_the_expiry_says_genuine_and_past_its_validity(live, bureau, phone, screenshot_path):
    live.run("issue")
    cert = show(live.run, A)
    assert cert["valid_until"] == "2028-12-31"
    verdict = phone.open(cert["url"] + "?at=2029-01-01")
    lines = _lines(verdict)
    assert (
        lines[0] == "证书真实，已过有效期" and "有效期至 2028-12-31" in lines[1] and "2029-01-01" in lines[1]
    )
    assert "证书无效" not in verdict and _banner_colour(phone) == GREY
    # the day before still holds: the date, not the certificate, made the difference
    assert "✔ 证书真实有效" in phone.open(cert["url"] + "?at=2028-12-31")
    phone.assert_local_and_quiet()


@pytest.mark.slow
def test_an_updated_certificate_says_genuine_and_updated_with_the_current_summary(
    live, bureau, phone, files, screenshot_path
):
    from tests.builders import RECORD_HEADER, record_row

    live.run("issue")
    printed = show(live.run, B)  # the copy the applicant printed: 10 elective credits
    live.run("records", "import", str(files.csv("more.csv", RECORD_HEADER, [record_row(bureau[1], "X-PRO")])))
    live.run("issue")  # new records: version 2
    verdict = phone.open(printed["url"])
    lines = _lines(verdict)
    assert lines[0] == "证书真实，已更新" and "已于" in lines[1] and "更新为第 2 版" in lines[1], lines
    assert lines[2] == "现行第 2 版：结论 周期进行中 · 总学分 30.00 · 有效期至 2028-12-31", lines
    assert _banner_colour(phone) == AMBER
    # the 查验码 on the printed copy opens the current version in full
    phone.page.fill("#current-lookup input[name=code]", printed["check_code"].lower())
    phone.page.click("#current-lookup button")
    phone.page.wait_for_load_state("networkidle")
    current = phone.page.locator("#verdict").inner_text()
    assert "✔ 证书真实有效" in current and "现行第 2 版" in current
    assert "请与申报人身份证核对" in phone.page.locator("#born").inner_text()
    assert phone.fits_the_screen()
    phone.assert_local_and_quiet()
    phone.open(printed["url"])
    phone.page.screenshot(path=str(screenshot_path.with_name("verifier-phone-updated.png")), full_page=True)


def test_a_cycle_under_way_says_what_is_short_with_amounts(live, bureau, phone):
    live.run("issue")
    verdict = phone.open(show(live.run, B)["url"])  # 10 elective credits so far
    lines = _lines(verdict)
    assert lines[0] == "✔ 证书真实有效"
    assert lines[2] == "结论：周期进行中 · 总学分 10.00 · 已达 1/11 项要求", lines
    assert lines[3].startswith("尚未达标：州级及以上·公共课 差 5.00；州级及以上·专业课 差 15.00"), lines
    assert "总学分 差 80.00" in lines[3]
    assert phone.page.locator("#credits td.st").first.inner_text() == "未达"


def test_a_certificate_minted_with_a_leaked_key_says_not_valid_and_why(
    live, bureau, phone, tmp_path, screenshot_path
):
    from verifier.token import from_base32, parse

    live.run("issue")
    genuine = show(live.run, A)
    forged = forge(
        tmp_path / "keys",
        active_kid(live.run),
        genuine["token"],
        parse(from_base32(genuine["token"])).claims.issued_at,
    )
    verdict = phone.open(genuine["url"].split("/V/")[0] + "/V/" + forged)
    lines = _lines(verdict)
    assert lines[0] == "✘ 证书无效" and "不是登记系统签发的" in lines[1] and "伪造" in lines[1], lines
    assert _banner_colour(phone) == RED
    assert "未能得到登记系统证实" in phone.page.locator("main").inner_text()
    assert phone.fits_the_screen()
    phone.assert_local_and_quiet()
    phone.page.screenshot(path=str(screenshot_path.with_name("verifier-phone-forged.png")), full_page=True)
