"""A render job's PDFs as one ZIP for printing: offered on the job's page
once it is done, streamed as it is written (memory flat however many
PDFs), named by number and holder, each entry a PDF that verifies with its
signature intact; only what is its certificate's current PDF, and only for
staff whose scope reaches the job."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile

from issuer.db import write_session
from issuer.models import Job
from issuer.office import zipstream
from tests.builders import record_row
from tests.helpers import SCHOOL_A, SCHOOL_B, plan, progress, run, signed_in, start, verify


def _work(region, job_id: int) -> None:
    for i in plan(region, job_id):
        assert run(region, job_id, i) == "done"


def _number(region, idn: str) -> str:
    return json.loads(region.run("credits", idn, "--json").stdout)["certificate_number"]


def _zip(c, job_id: int) -> zipfile.ZipFile:
    r = c.get(f"/office/jobs/{job_id}.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert r.is_streamed  # a generator's response: never built whole in memory
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    data = b"".join(r.response)  # what the client receives, chunk by chunk
    return zipfile.ZipFile(io.BytesIO(data))


def test_a_done_render_job_offers_its_pdfs_as_a_streamed_zip_of_signed_pdfs(
    app, region, keys, queued, tmp_path
):
    region.run("issue")
    names = {_number(region, region.a[0]): "王芳", _number(region, region.a[1]): "李娜"}
    aud = signed_in(app, region, "auditor")
    start(aud, "render", SCHOOL_A[0])
    page = aud.get(f"/office/jobs/{queued[0]}").get_data(as_text=True)
    assert "job-zip" not in page  # queued: nothing to download yet
    assert aud.get(f"/office/jobs/{queued[0]}.zip").status_code == 404
    _work(region, queued[0])
    page = aud.get(f"/office/jobs/{queued[0]}").get_data(as_text=True)
    assert f'href="/office/jobs/{queued[0]}.zip"' in page and "2 份 PDF" in page

    z = _zip(aud, queued[0])
    assert sorted(z.namelist()) == sorted(f"{n}-{name}.pdf" for n, name in names.items())
    assert z.testzip() is None
    for info in z.infolist():
        assert info.compress_type == zipfile.ZIP_STORED  # PDFs are compressed already
        assert info.flag_bits & 0x800  # the name is UTF-8
        data = z.read(info)
        assert data.startswith(b"%PDF")
        path = tmp_path / info.filename
        path.write_bytes(data)
        result = verify(region.run, str(path))
        pdf = next(c for c in result["checks"] if c["name"] == "pdf")
        assert result["valid"] and result["certificate"]["number"] == info.filename[:16], result
        assert pdf["ok"] and "签章有效" in pdf["message"]


def test_a_region_job_zips_a_folder_a_school_and_leaves_out_what_changed_since(app, region, keys, queued):
    region.run("issue")
    aud = signed_in(app, region, "auditor")
    start(aud, "render")
    _work(region, queued[0])
    a0, a1, b0 = _number(region, region.a[0]), _number(region, region.a[1]), _number(region, region.b[0])
    assert sorted(_zip(aud, queued[0]).namelist()) == sorted(
        [
            f"{SCHOOL_A[0]}-{SCHOOL_A[1]}/{a0}-王芳.pdf",
            f"{SCHOOL_A[0]}-{SCHOOL_A[1]}/{a1}-李娜.pdf",
            f"{SCHOOL_B[0]}-{SCHOOL_B[1]}/{b0}-张伟.pdf",
        ]
    )

    # after the render: one revoked, one reissued with a new record. Their PDFs on disk
    # are not what verifies now: left out, and the page says which and why.
    region.run("revoke", b0, "--reason", "测试撤销")
    region.run("records", "import", str(region.records_file("more.csv", [record_row(region.a[0], "X-PRO")])))
    region.run("issue", "--teacher", a0)
    page = aud.get(f"/office/jobs/{queued[0]}").get_data(as_text=True)
    assert "1 份 PDF" in page and "以下 2 份不在 ZIP 中" in page
    assert "证书已撤销或没有现行版本" in page and "请重新生成 PDF" in page and "张伟" in page
    assert _zip(aud, queued[0]).namelist() == [f"{SCHOOL_A[0]}-{SCHOOL_A[1]}/{a1}-李娜.pdf"]

    # rendered again, school A's job has both of its current PDFs
    start(aud, "render", SCHOOL_A[0])
    _work(region, queued[1])
    assert progress(aud, queued[1])["counts"] == {"rendered": 1, "unchanged": 1, "failed": 0}
    z = _zip(aud, queued[1])
    assert sorted(z.namelist()) == sorted([f"{a0}-王芳.pdf", f"{a1}-李娜.pdf"])
    assert "以下" not in aud.get(f"/office/jobs/{queued[1]}").get_data(as_text=True)


def test_the_zip_is_only_for_a_done_render_job_in_scope(app, region, keys, queued):
    region.run("issue")
    aud = signed_in(app, region, "auditor")
    start(aud, "render", SCHOOL_B[0])
    _work(region, queued[0])
    start(aud, "issue", SCHOOL_B[0])
    _work(region, queued[1])
    assert aud.get(f"/office/jobs/{queued[0]}.zip").status_code == 200
    assert aud.get(f"/office/jobs/{queued[1]}.zip").status_code == 404  # an issue job has no PDFs
    assert aud.get("/office/jobs/999.zip").status_code == 404
    for user in ("reg-a", "reg-b"):  # a school's registrar reaches no job, her school's neither
        assert signed_in(app, region, user).get(f"/office/jobs/{queued[0]}.zip").status_code == 404
    admin = signed_in(app, region, "admin")
    assert admin.get(f"/office/jobs/{queued[0]}.zip").status_code == 200
    with write_session(region.engine) as s:  # a job that failed half-way offers nothing to print
        s.get(Job, queued[0]).state = "failed"
    assert aud.get(f"/office/jobs/{queued[0]}.zip").status_code == 404
    assert "job-zip" not in aud.get(f"/office/jobs/{queued[0]}").get_data(as_text=True)
    # signed out: the sign-in page, not the file
    c = app.test_client()
    assert c.get(f"/office/jobs/{queued[0]}.zip").headers["Location"].startswith("/office/login")


def test_the_zip_stream_keeps_memory_flat_for_a_schools_2400_pdfs(tmp_path):
    """2,400 entries of a 60 KB file (a certificate's PDF is 57 KB): the
    stream never holds more than about one file, whatever the total."""
    pdf = tmp_path / "one.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 240)
    entries = [(f"65400407100{n:05d}-王芳.pdf", pdf) for n in range(2400)]
    tracemalloc.start()
    try:
        total, largest = 0, 0
        for chunk in zipstream.stream(entries):
            total, largest = total + len(chunk), max(largest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 2400 * pdf.stat().st_size  # every byte went through
    assert largest < 200_000  # handed on file by file (the central directory is the last, ~200 KB)
    assert peak < 8 * 2**20, peak  # what it held at most: under 8 MB of 140 MB streamed

    z = zipfile.ZipFile(io.BytesIO(b"".join(zipstream.stream(entries[:3]))))
    assert z.namelist() == [name for name, _ in entries[:3]] and z.testzip() is None
    assert z.read(z.namelist()[0]) == pdf.read_bytes()


def test_a_page_that_cannot_check_the_pdfs_says_why_and_offers_no_zip(app, region, keys, queued, monkeypatch):
    from issuer.certificates.keystore import Keystore
    from issuer.errors import ConfigError

    region.run("issue")
    aud = signed_in(app, region, "auditor")
    start(aud, "render", SCHOOL_B[0])
    _work(region, queued[0])

    def no_certificate(self, session, bureau):
        raise ConfigError(
            "机关没有可用的 PDF 签章证书：请先运行 ecert keys init", "no PDF-signing certificate"
        )

    monkeypatch.setattr(Keystore, "document_key", no_certificate)
    r = aud.get(f"/office/jobs/{queued[0]}")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "没有可用的 PDF 签章证书" in page and "job-zip" not in page
    r = aud.get(f"/office/jobs/{queued[0]}.zip")
    assert r.status_code == 302 and r.headers["Location"] == f"/office/jobs/{queued[0]}"
