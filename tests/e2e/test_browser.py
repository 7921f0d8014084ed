"""End to end, as a committee member's phone uses it: a certificate is
issued and printed, its QR code is scanned off the page, and the link opens
the verifier in a real (headless) Chromium at a phone's size. Genuine,
tampered, revoked and expired certificates each say so in the banner; the
page loads nothing from elsewhere and logs no errors."""
from __future__ import annotations

import subprocess

import zxingcpp
from PIL import Image

from tests.certs.conftest import show

A = "6540040710000014"   # 热依拉·阿不都热合曼: 90 credits, cycle in progress, valid until 2028-12-31
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


def test_the_scanned_qr_code_opens_a_genuine_verdict_on_a_phone(live, bureau, phone, tmp_path,
                                                                screenshot_path):
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
    assert _banner_colour(phone) == GREEN          # the stylesheet loaded (and CSP let it)
    assert phone.fits_the_screen()
    phone.assert_local_and_quiet()
    phone.page.screenshot(path=str(screenshot_path), full_page=True)
    with Image.open(screenshot_path) as shot:
        assert shot.width == 390 * 2 and shot.height >= 844 * 2


def test_a_tampered_token_says_not_valid(live, bureau, phone):
    live.run("issue")
    url = show(live.run, A)["url"]
    base, token = url.split("/V/")
    i = len(token) // 2                              # inside the signed payload
    swapped = BASE32[(BASE32.index(token[i]) + 1) % 32]
    tampered = token[:i] + swapped + token[i + 1:]
    assert tampered != token and set(tampered) <= set(BASE32)

    verdict = phone.open(f"{base}/V/{tampered}")
    assert "✘ 证书无效" in verdict and "真实有效" not in verdict
    assert "签名" in verdict or "解码" in verdict
    assert _banner_colour(phone) == RED
    # the reason comes first, before anything the token claims
    assert phone.page.locator("main > :first-child").get_attribute("id") == "verdict"
    assert phone.fits_the_screen()
    phone.assert_local_and_quiet()


def test_a_revoked_certificate_says_not_valid_and_revoked(live, bureau, phone):
    live.run("issue")
    live.run("revoke", A, "--reason", "测试撤销")
    verdict = phone.open(show(live.run, A)["url"])
    assert "✘ 证书无效" in verdict and "撤销" in verdict
    assert _banner_colour(phone) == RED
    phone.assert_local_and_quiet()


def test_a_date_after_the_expiry_says_not_valid_and_why(live, bureau, phone):
    live.run("issue")
    cert = show(live.run, A)
    assert cert["valid_until"] == "2028-12-31"
    verdict = phone.open(cert["url"] + "?at=2029-01-01")
    assert "✘ 证书无效" in verdict and "有效期" in verdict
    assert _banner_colour(phone) == RED
    # the day before still holds: the date, not the certificate, made the difference
    assert "✔ 证书真实有效" in phone.open(cert["url"] + "?at=2028-12-31")
    phone.assert_local_and_quiet()
