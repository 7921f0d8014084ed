"""The office end to end in a real browser at a laptop's size: a school's
registrar declares records from a file, the bureau's auditor recognises the
school's declarations and issues them from the batch page (a real Celery
worker on the embedded broker, as `ecert serve` starts it), the teacher
signs in and downloads her PDF, and the PDF's QR code verifies. Screenshots of the main pages go to
ECERT_SCREENSHOT_DIR (docs/ was made that way) or tmp_path."""

from __future__ import annotations

import csv
import re
import subprocess

import pytest
import zxingcpp
from PIL import Image

from issuer.office import tasks
from tests.builders import RECORD_HEADER, record_row
from tests.e2e.signin import first_sign_in
from tests.helpers import show

SCHOOL = "6540040001"
B = "6540040710000022"  # 王芳: only 选修 recognised by the bureau


def _code(out: str) -> str:
    return re.search(r"一次性密码：(\w+)", out).group(1)


_first_sign_in = first_sign_in


def _sign_out(page):
    page.click(".logout button")


@pytest.mark.slow
def test_declare_recognise_issue_download_verify(live, bureau, laptop, shots, tmp_path, files, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # the embedded broker, as ./run.sh has it
    base = live.base.lower()
    reg_code = _code(
        live.run(
            "staff", "add", "reg-1", "--role", "registrar", "--school", SCHOOL, "--name", "第一小学专管员"
        ).stdout
    )
    aud_code = _code(live.run("staff", "add", "aud-1", "--role", "auditor", "--name", "师训办审核员").stdout)
    declared = files.csv(
        "declare.csv",
        RECORD_HEADER,
        [
            record_row(bureau[1], code, done="2025-09-01")
            for code in ("Z-PUB", "Z-PRO", "X-PUB", "X-PRO", "X-DIG")
        ],
    )

    # the registrar declares a file
    _first_sign_in(laptop, base, "/office/login", {"username": "reg-1"}, reg_code)
    laptop.click("nav.tabs >> text=申报")
    laptop.set_input_files("input[type=file]", str(declared))
    laptop.click("button:has-text('上传申报')")
    assert "已申报" in laptop.content() and laptop.locator(".state-declared").count() == 5
    laptop.screenshot(path=str(shots / "office-declare.png"), full_page=True)
    _sign_out(laptop)

    # the auditor sees them with their credits and recognises the school's declarations
    _first_sign_in(laptop, base, "/office/login", {"username": "aud-1"}, aud_code)
    laptop.click("nav.tabs >> text=审核认定")
    laptop.click(".chip")
    assert laptop.locator("table.review tbody tr").count() == 5
    laptop.screenshot(path=str(shots / "office-review.png"), full_page=True)
    laptop.fill("input[name=confirm]", SCHOOL)
    laptop.click("button:has-text('整校认定')")
    assert "已认定学校" in laptop.content()

    # ... and issues the region's certificates in the background, on the worker `ecert serve` starts
    # (which stays: it also renders and signs the teacher's PDF, the web process holding no key)
    with open(tmp_path / "worker.log", "w") as log:
        worker = tasks.start_embedded_worker(stdout=log, stderr=log)
    try:
        _issue_and_download(laptop, live, base, shots, tmp_path)
    finally:
        tasks.stop_worker(worker)
    pdf = tmp_path / "mine.pdf"

    # its QR code opens the verifier, which says genuine
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / "scan")], check=True
    )
    with Image.open(tmp_path / "scan.png") as img:
        urls = [r.text for r in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)]
    assert urls == [show(live.run, B)["url"]]
    laptop.goto(urls[0])
    assert "证书真实有效" in laptop.locator("#verdict").inner_text()
    assert "70.00" in laptop.locator("main").inner_text()  # 选修 10 + the five recognised above, 60
    assert not laptop.errors, laptop.errors


def _issue_and_download(laptop, live, base, shots, tmp_path):
    """From the batch page's issuance to the teacher's PDF, while the worker runs."""
    laptop.click("nav.tabs >> text=批量任务")
    laptop.select_option("select[name=kind]", "issue")
    laptop.click("main button:has-text('开始')")
    laptop.wait_for_selector("text=已完成", timeout=90_000)  # the page refreshes itself until then
    assert re.search(r"签发\D*3", laptop.locator("main").inner_text())  # three teachers, each issued once
    laptop.screenshot(path=str(shots / "office-job.png"), full_page=True)
    laptop.goto(f"{base}/office/teachers?school={SCHOOL}")
    assert laptop.locator("text=王芳").count() >= 1
    laptop.screenshot(path=str(shots / "office-teachers.png"), full_page=True)
    _sign_out(laptop)

    # the teacher downloads her PDF
    codes_file = tmp_path / "codes.csv"
    live.run("passwords", "issue", "--school", SCHOOL, "-o", str(codes_file))
    with codes_file.open(encoding="utf-8-sig") as f:
        teacher_code = {r["证书编号"]: r["一次性登录码"] for r in csv.DictReader(f)}[B]
    _first_sign_in(laptop, base, "/teacher/login", {"account": B}, teacher_code)
    assert "已达到本周期要求" in laptop.content() or "尚未达到本周期要求" in laptop.content()
    with laptop.expect_download() as download:
        laptop.click("text=下载 PDF 证书")
    download.value.save_as(tmp_path / "mine.pdf")
