"""ECERT_STORAGE=database (and s3://…, on moto's S3 server) in one
process: a render job's PDFs, their manifest (each PDF's tag), the job's
ZIP and the teacher's download all go through the shared store, and
nothing is written to the data folder's pdfs/ or pdf-cache/. (Two workers
and a web server on separate data folders: tests/staff/test_storage_shared.py.)"""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from sqlalchemy import select

from issuer.config import load_settings
from issuer.db import read_session
from issuer.models import Certificate
from issuer.storage import FolderStorage, storage_for
from tests.helpers import SCHOOL_A, csrf, plan, progress, render_pdfs_inline, run, signed_in, start
from tests.test_storage import s3, s3_server  # noqa: F401  # fixtures: moto's S3 server, a bucket


@pytest.fixture(autouse=True, params=["database", "s3"])
def shared_storage(request, monkeypatch) -> str:
    """ECERT_STORAGE, and what the job's page says of where the PDFs are."""
    if request.param == "s3":
        bucket = request.getfixturevalue("s3")
        monkeypatch.setenv("ECERT_STORAGE", f"s3://{bucket}/horgos")
        return f"对象存储 s3://{bucket}/horgos/pdfs/"
    monkeypatch.setenv("ECERT_STORAGE", "database")
    return "共享数据库"


def _work(region, job_id: int) -> None:
    for i in plan(region, job_id):
        assert run(region, job_id, i) == "done"


def _teacher(app, region, number: str, tmp_path):
    codes_file = tmp_path / "codes.csv"
    region.run("passwords", "issue", "-o", str(codes_file))
    with codes_file.open(encoding="utf-8-sig") as f:
        code = next(r["一次性登录码"] for r in csv.DictReader(f) if r["证书编号"] == number)
    c = app.test_client()
    r = c.post(
        "/teacher/login", data={"account": number, "password": code, "csrf_token": csrf(c, "/teacher/login")}
    )
    assert r.status_code == 302
    new = "我的新密码-2026"
    r = c.post(
        "/teacher/password",
        data={"new": new, "again": new, "csrf_token": csrf(c, "/teacher/password")},
    )
    assert r.status_code == 302
    return c


def test_render_job_zip_and_download_all_through_the_shared_store(
    shared_storage, region, keys, queued, app, tmp_path
):
    region.run("issue")
    settings = load_settings()
    store = storage_for(settings, region.engine)
    assert not isinstance(store, FolderStorage)
    aud = signed_in(app, region, "auditor")
    start(aud, "render")
    _work(region, queued[0])
    assert progress(aud, queued[0])["counts"] == {"rendered": 3, "unchanged": 0, "failed": 0}
    with read_session(region.engine) as s:
        numbers = sorted(s.scalars(select(Certificate.number)))
    tags = {k: st.tag for k, st in store.list("pdfs/")}
    assert sorted(tags) == [f"pdfs/{n}.pdf" for n in numbers] and all(tags.values())  # the manifest, shared
    assert not list(settings.data_dir.rglob("*.pdf")) and not (settings.data_dir / "pdfs").exists()

    page = aud.get(f"/office/jobs/{queued[0]}").get_data(as_text=True)
    assert shared_storage in page and "3 份 PDF" in page
    r = aud.get(f"/office/jobs/{queued[0]}.zip")
    assert r.status_code == 200 and r.is_streamed
    z = zipfile.ZipFile(io.BytesIO(b"".join(r.response)))
    assert len(z.namelist()) == 3 and z.testzip() is None
    for name in z.namelist():
        number = name.rsplit("/", 1)[-1][:16]
        assert z.read(name) == store.read(f"pdfs/{number}.pdf") and z.read(name).startswith(b"%PDF")

    start(aud, "render", SCHOOL_A[0])  # the manifest in the database: nothing rendered again
    _work(region, queued[1])
    assert progress(aud, queued[1])["counts"] == {"rendered": 0, "unchanged": 2, "failed": 0}

    # The teacher's download: the render job's PDF, from the database, no worker asked.
    number = numbers[0]

    def no_worker(n):
        raise AssertionError("the render job's PDF should have been served")

    app.config["ECERT_PDF_DISPATCH"] = no_worker
    t = _teacher(app, region, number, tmp_path)
    r = t.get("/teacher/certificate.pdf")
    assert r.status_code == 200 and r.data == store.read(f"pdfs/{number}.pdf")

    # Not rendered yet: the worker renders and signs it into the cache, in the database.
    store.delete(f"pdfs/{number}.pdf")
    render_pdfs_inline(app)
    r = t.get("/teacher/certificate.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and b"/ETSI.CAdES.detached" in r.data
    cached = [k for k, _ in store.list("pdf-cache/")]
    assert len(cached) == 1 and cached[0].startswith(f"pdf-cache/{number}-")
    assert store.read(cached[0]) == r.data
    assert not list(settings.data_dir.rglob("*.pdf"))
