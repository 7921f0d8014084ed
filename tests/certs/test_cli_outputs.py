"""Where `ecert` writes and what it says when it cannot: an output folder
that does not exist yet is made, a file that cannot be written is named
(never a traceback), and input that names nothing real is refused as such."""

from __future__ import annotations

import json

from tests.builders import ROSTER_HEADER

A = "6540040710000014"


def test_output_files_go_into_folders_made_for_them(keyed, bureau, tmp_path):
    keyed("issue")
    out = tmp_path / "new" / "folder"
    keyed("pdf", A, "-o", str(out / "a.pdf"))
    keyed("keys", "jwks", "-o", str(out / "jwks.json"))
    keyed("status", "export", "-o", str(out / "status.json"))
    assert (out / "a.pdf").read_bytes().startswith(b"%PDF")
    assert json.loads((out / "jwks.json").read_text())["keys"]
    assert json.loads((out / "status.json").read_text())["snapshot"]["certificates"]


def test_a_file_that_cannot_be_written_is_named_without_a_traceback(keyed, bureau, tmp_path):
    keyed("issue")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    r = keyed("pdf", A, "-o", str(blocker / "a.pdf"), check=False)
    assert r.returncode == 1 and "无法读写文件" in r.stderr and str(blocker) in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_an_import_refusal_survives_a_report_that_cannot_be_written(keyed, files, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad = files.csv(
        "bad.csv", ROSTER_HEADER, [["张三", "110105194912310021", "", "S1", "一小", "小学", "2020-09-01", ""]]
    )
    r = keyed("roster", "import", str(bad), "--report", str(blocker / "r.csv"), check=False)
    assert r.returncode == 2 and "校验位错误" in r.stderr and "could not be written" in r.stderr
    made = tmp_path / "reports" / "r.csv"
    r = keyed("roster", "import", str(bad), "--report", str(made), check=False)
    assert r.returncode == 2 and "校验位错误" in made.read_text(encoding="utf-8-sig")


def test_verify_names_a_missing_file_rather_than_reading_it_as_a_token(keyed, bureau, tmp_path):
    for missing in ("nope.pdf", str(tmp_path / "scan.png"), "./certificate"):
        r = keyed("verify", missing, check=False)
        assert r.returncode == 2 and "找不到文件" in r.stderr, missing


def test_an_unknown_school_is_named_not_an_empty_batch(keyed, bureau, tmp_path):
    for args in (("issue", "--school", "NOPE"), ("render", "--school", "NOPE", "--out", str(tmp_path / "o"))):
        r = keyed(*args, check=False)
        assert r.returncode == 3 and "没有学校代码为 NOPE" in r.stderr, args


def test_a_database_other_than_sqlite_or_postgresql_is_refused_clearly(run_ecert, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://user@host/db")
    r = run_ecert("init", check=False)
    assert r.returncode == 1 and "不支持的数据库：mysql" in r.stderr
