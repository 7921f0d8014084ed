"""The batch page end to end in a real browser, with the worker `ecert
serve` starts (the embedded broker): the auditor previews an issuance,
starts it from the preview, renders the certificates' PDFs and downloads
them as one ZIP from the job's page, whose every entry is a PDF. Screenshots
of the preview and the finished render job go to ECERT_SCREENSHOT_DIR or
tmp_path."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest

from issuer.office import tasks
from tests.e2e.signin import office_sign_in
from tests.helpers import show

HOLDERS = {"热依拉·阿不都热合曼", "王芳", "李娜"}  # the `bureau` fixture's three teachers


_sign_in = office_sign_in


@pytest.mark.slow
def test_preview_issue_render_and_download_the_zip(live, bureau, laptop, tmp_path, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # the embedded broker, as ./run.sh has it
    base = live.base.lower()
    out = live.run("staff", "add", "aud-1", "--role", "auditor", "--name", "师训办审核员").stdout
    _sign_in(laptop, base, "aud-1", re.search(r"一次性密码：(\w+)", out).group(1))

    # the preview: who would be issued, nothing signed
    shots = Path(os.environ.get("ECERT_SCREENSHOT_DIR") or tmp_path)
    laptop.click("nav.tabs >> text=批量任务")
    laptop.screenshot(path=str(shots / "office-jobs-form.png"), full_page=True)
    laptop.select_option("select[name=kind]", "issue")
    laptop.click("#job-preview")
    assert laptop.locator("#preview-issued").inner_text() == "3"
    assert "没有签名" in laptop.locator("#preview-note").inner_text()
    laptop.screenshot(path=str(shots / "office-job-preview.png"), full_page=True)

    with open(tmp_path / "worker.log", "w") as log:
        worker = tasks.start_embedded_worker(stdout=log, stderr=log)
    try:
        # ... started from the preview page
        laptop.click("#preview-start")
        laptop.wait_for_selector("text=已完成", timeout=90_000)  # the page refreshes itself until then
        assert laptop.locator("#count-issued").inner_text() == "3"
        assert laptop.locator("#job-starter").inner_text() == "师训办审核员"
        issue_job = laptop.url

        # the region's PDFs, then the job's ZIP from its page
        laptop.click("nav.tabs >> text=批量任务")
        laptop.select_option("select[name=kind]", "render")
        laptop.click("main button:has-text('开始')")
        laptop.wait_for_selector("#job-zip", timeout=180_000)
        assert "3 份 PDF" in laptop.locator("#job-zip").inner_text()
        laptop.screenshot(path=str(shots / "office-job-zip.png"), full_page=True)
        with laptop.expect_download() as download:
            laptop.click("#job-zip")
        path = tmp_path / "pdfs.zip"
        download.value.save_as(path)
        assert download.value.suggested_filename.endswith(".zip")
    finally:
        tasks.stop_worker(worker)

    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert len(names) == 3 and all(n.endswith(".pdf") and "/" in n for n in names)  # a folder a school
        holders = set()
        for name in names:
            number, holder = re.fullmatch(r"[^/]+/(\d{15}[\dX])-(.+)\.pdf", name).groups()
            assert show(live.run, number)["status"] == "current"
            holders.add(holder)
            data = z.read(name)
            assert data.startswith(b"%PDF-") and len(data) > 10_000
        assert holders == HOLDERS

    # the batch was issued in error: revoked from its job's page, after confirming how many
    laptop.goto(issue_job)
    laptop.click("#job-revoke")
    laptop.fill("input[name=reason]", "测试批次，误签发")
    laptop.click("main button:has-text('查看将撤销的证书')")
    assert laptop.locator("#revoke-count").inner_text() == "3"
    laptop.screenshot(path=str(shots / "office-revoke-batch.png"), full_page=True)
    laptop.fill("input[name=confirm]", "3")
    laptop.click("#revoke-confirm")
    assert "已撤销 3 份证书" in laptop.locator(".flash").inner_text()
    assert all(show(live.run, re.search(r"(\d{15}[\dX])-", n).group(1))["status"] == "revoked" for n in names)
    assert not laptop.errors, laptop.errors
