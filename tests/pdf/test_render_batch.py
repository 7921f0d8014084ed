"""`ecert render`: the batch of PDFs, parallel, skipping unchanged ones, and
going on past a certificate that fails."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from issuer.pdf.batch import MANIFEST, BatchRenderer
from tests.builders import RECORD_HEADER, record_row
from verifier.profiles import load_profile


@pytest.mark.slow
def test_render_all_then_only_what_changed(keyed, bureau, files, tmp_path):
    keyed("issue")
    out = tmp_path / "pdfs"
    first = keyed("render", "--out", str(out), "--workers", "2").stdout
    assert "生成 3，未变化 0，失败 0" in first
    assert sorted(p.name for p in out.glob("*.pdf")) == [
        "6540040710000014.pdf",
        "6540040710000022.pdf",
        "6540040710000030.pdf",
    ]
    assert len(json.loads((out / MANIFEST).read_text())) == 3
    assert "生成 0，未变化 3，失败 0" in keyed("render", "--out", str(out)).stdout
    keyed(
        "records",
        "import",
        str(files.csv("fix.csv", RECORD_HEADER, [record_row(bureau[1], "X-ELE", grade="优秀")])),
    )
    keyed("issue")
    assert "生成 1，未变化 2，失败 0" in keyed("render", "--out", str(out)).stdout
    (out / "6540040710000030.pdf").unlink()  # a file gone from the folder is made again
    assert "生成 1，未变化 2" in keyed("render", "--out", str(out)).stdout


@dataclass
class FakeCert:
    number: str
    token: str
    state: str = "current"
    check_code: str = "ABCDEFGHJKLM"
    summary: str = '{"years": [], "minimums": {}}'


def test_a_failing_certificate_is_reported_and_the_batch_goes_on(keyed, bureau, tmp_path, db_url):
    from issuer.certificates.versions import latest
    from issuer.db import make_engine, read_session

    keyed("issue")
    engine = make_engine(db_url)
    with read_session(engine) as s:
        good = latest(s, "6540040710000014")
    engine.dispose()
    batch = BatchRenderer(load_profile("horgos-7"), "HTTP://X", tmp_path / "fonts", tmp_path / "out")
    summary = batch.run(iter([FakeCert("6540040710000022", "NOTATOKEN"), good]))
    assert summary.rendered == 1 and [n for n, _ in summary.failed] == ["6540040710000022"]
    assert "TokenError" in summary.failed[0][1]
    assert (tmp_path / "out" / "6540040710000014.pdf").is_file()


def _full_after(monkeypatch, files_that_fit: int) -> list:
    """The disk fills after `files_that_fit` files: a write then leaves half
    a file and fails with ENOSPC, as a full filesystem does."""
    import errno

    from issuer.pdf import batch as batch_lib

    written = []
    real = batch_lib._write_file

    def write(path, data):
        if len(written) >= files_that_fit:
            path.write_bytes(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)
        written.append(path)

    monkeypatch.setattr(batch_lib, "_write_file", write)
    return written


def test_a_full_disk_stops_the_batch_says_what_was_done_and_leaves_no_temporary_file(
    keyed, bureau, tmp_path, monkeypatch
):
    keyed("issue")
    out = tmp_path / "pdfs"
    out.mkdir()
    (out / ".6540040710000099.pdf.4242.tmp").write_bytes(b"left by a killed run")
    with monkeypatch.context() as full:
        _full_after(full, 1)
        result = keyed("render", "--out", str(out), check=False)
    assert result.returncode == 1
    said = " ".join(result.stdout.split())
    # the first PDF written, the second hits the full disk, the third is not tried
    assert "生成 1，未变化 0，失败 1，未生成 1" in said and str(out) in said
    assert "已停止：磁盘已满" in said
    assert list(out.glob(".*.tmp")) == [] and len(list(out.glob("*.pdf"))) == 1
    # room again: the rerun finishes (the full disk kept the manifest from being saved: all three again)
    assert "失败 0" in keyed("render", "--out", str(out)).stdout and len(list(out.glob("*.pdf"))) == 3
    assert list(out.glob(".*.tmp")) == []


def test_a_single_pdf_on_a_full_disk_is_named_and_leaves_nothing(keyed, bureau, tmp_path, monkeypatch):
    keyed("issue")
    _full_after(monkeypatch, 0)
    result = keyed("pdf", "6540040710000014", "-o", str(tmp_path / "a.pdf"), check=False)
    assert result.returncode == 1 and "No space left on device" in result.stderr
    assert list(tmp_path.glob("*a.pdf*")) == []
