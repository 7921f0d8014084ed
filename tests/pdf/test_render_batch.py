"""`ecert render`: the batch of PDFs, parallel, skipping unchanged ones, and
going on past a certificate that fails."""
from __future__ import annotations

import json
from dataclasses import dataclass

from issuer.pdf.batch import MANIFEST, BatchRenderer
from verifier.profiles import load_profile
from tests.builders import RECORD_HEADER, record_row


def test_render_all_then_only_what_changed(keyed, bureau, files, tmp_path):
    keyed("issue")
    out = tmp_path / "pdfs"
    first = keyed("render", "--out", str(out), "--workers", "2").stdout
    assert "生成 3，未变化 0，失败 0" in first
    assert sorted(p.name for p in out.glob("*.pdf")) == [
        "6540040710000014.pdf", "6540040710000022.pdf", "6540040710000030.pdf"]
    assert len(json.loads((out / MANIFEST).read_text())) == 3
    assert "生成 0，未变化 3，失败 0" in keyed("render", "--out", str(out)).stdout
    keyed("records", "import", str(files.csv("fix.csv", RECORD_HEADER, [
        record_row(bureau[1], "X-ELE", grade="优秀")])))
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
    from issuer.db import make_engine, read_session
    from issuer.register import latest
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
