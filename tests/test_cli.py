"""`ecert` as a clerk runs it: real files, exit codes, Chinese output."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from tests.builders import (
    PROJECT_HEADER,
    RECORD_HEADER,
    ROSTER_HEADER,
    id_number,
    project_row,
    record_row,
    teacher_row,
)

SHEET_KEYS = [
    "certificate_number",
    "cycle",
    "profile",
    "buckets",
    "offset_used",
    "years",
    "qualified",
    "unmet",
    "records",
    "as_of",
]
BUCKET_KEYS = [
    "prefecture_public",
    "prefecture_professional",
    "prefecture",
    "county_public",
    "county_professional",
    "county",
    "digital",
    "required",
    "elective",
    "school_based",
    "total",
]


@pytest.fixture
def loaded(run_ecert, files):
    """A database holding one teacher with two records."""
    a = id_number()
    run_ecert(
        "projects",
        "import",
        str(
            files.csv(
                "p.csv",
                PROJECT_HEADER,
                [
                    project_row(
                        "XJ-2024-01", level="自治区级", category="必修-公共", hours="20", year="2024"
                    ),
                    project_row(
                        "HEGS-2025-01", level="县市级", category="必修-专业", mode="网络", hours="12.5"
                    ),
                ],
            )
        ),
    )
    run_ecert(
        "roster",
        "import",
        str(files.csv("r.csv", ROSTER_HEADER, [teacher_row("阿依古丽·买买提", a)])),
        "--cycle",
        "7",
    )
    run_ecert(
        "records",
        "import",
        str(
            files.csv(
                "rec.csv",
                RECORD_HEADER,
                [
                    record_row(a, "XJ-2024-01", grade="优秀", done="2024-04-01"),
                    record_row(a, "HEGS-2025-01", role="主讲", done="2025-06-01"),
                ],
            )
        ),
    )
    return a


@pytest.mark.unmigrated  # the database file is the one `ecert init` makes
def test_what_the_service_writes_is_its_users_alone(run_ecert, tmp_path, db_url):
    import os
    import stat

    old = os.umask(0o022)  # the usual default, which made the database 0644
    try:
        run_ecert("init")
        if db_url.startswith("sqlite"):
            db = tmp_path / "ecert.sqlite3"
            assert stat.S_IMODE(db.stat().st_mode) == 0o600, oct(db.stat().st_mode)
        (tmp_path / "probe").write_text("x")  # anything else the process writes from then on
        assert stat.S_IMODE((tmp_path / "probe").stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.unmigrated
def test_init_is_idempotent(run_ecert):
    assert "已创建" in run_ecert("init").stdout
    assert "已是最新" in run_ecert("init").stdout


def test_init_names_records_dated_after_today_stored_before_they_were_refused(run_ecert, loaded, clock):
    assert "晚于今天" not in run_ecert("init").stdout
    clock.move_to("2025-01-01")  # as if the 2025 record had been stored ahead of its day
    said = run_ecert("init").stdout
    assert "库中有 1 条培训记录的完成日期晚于今天" in said


def test_credits_json_has_exactly_the_contract_shape(run_ecert, loaded):
    sheet = json.loads(run_ecert("credits", loaded, "--json").stdout)
    assert list(sheet) == SHEET_KEYS and list(sheet["buckets"]) == BUCKET_KEYS
    # 20 h centralised = 5.00 basic; provincial excellent +15% = 0.75 → 5.75 (prefecture public)
    # 12.5 h online = 2.50 basic; county lead trainer +1x = 2.50 → 5.00 (county professional)
    assert sheet["buckets"]["prefecture_public"] == "5.75"
    assert sheet["buckets"]["county_professional"] == "5.00"
    assert sheet["buckets"]["total"] == "10.75"
    assert sheet["years"] == {"2024": "5.75", "2025": "5.00", "2026": "0.00", "2027": "0.00", "2028": "0.00"}
    assert sheet["records"][1] == {
        "project_code": "HEGS-2025-01",
        "basic": "2.50",
        "reward": "2.50",
        "credits": "5.00",
        "why": sheet["records"][1]["why"],
    }
    assert (sheet["certificate_number"], sheet["cycle"], sheet["profile"]) == (
        "6540040710000014",
        7,
        "horgos-7",
    )
    assert sheet["qualified"] is False and "total" in sheet["unmet"]


def test_credits_by_printed_number_shows_the_sheet_in_chinese(run_ecert, loaded):
    out = run_ecert("credits", "654004-07-1-000001-4").stdout
    assert "阿依古丽·买买提" in out and "**************" + loaded[-4:] in out
    assert loaded not in out  # the full ID number is never printed
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "654004-07-1-000001-4")  # an IME's full-width mode
    assert "阿依古丽·买买提" in run_ecert("credits", full_width).stdout
    assert "州级及以上·公共课" in out and "10.75" in out and "尚未达到" in out


@pytest.mark.parametrize(
    "ref, code, fragment",
    [
        ("6540040710000015", 2, "check character"),  # wrong check character: refused before lookup
        ("6540040710000022", 3, "没有登记"),  # well formed, not registered
        ("12345", 2, "既不是有效的证书编号"),
    ],
)
def test_credits_with_a_bad_reference_says_why(run_ecert, loaded, ref, code, fragment):
    proc = run_ecert("credits", ref, check=False)
    assert proc.returncode == code and fragment in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bad_file_is_refused_whole_with_a_report(run_ecert, files, tmp_path):
    run_ecert("init")
    good, bad = id_number(), id_number()
    bad = bad[:-1] + ("0" if bad[-1] != "0" else "1")
    path = files.csv(
        "r.csv", ROSTER_HEADER, [teacher_row(idn=good), teacher_row(idn=bad, hired="2010-13-01")]
    )
    report = tmp_path / "report.csv"
    proc = run_ecert("roster", "import", str(path), "--report", str(report), check=False)
    assert proc.returncode == 2
    assert "被整体拒收" in proc.stderr and "未写入任何数据" in proc.stderr
    assert "校验位错误" in proc.stderr and "入职日期" in proc.stderr
    with report.open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert [r[:2] for r in rows[1:]] == [["3", "身份证号"], ["3", "入职日期"]]
    assert json.loads(run_ecert("summary", "--json").stdout)["teachers"] == 0


def test_summary_counts_by_school(run_ecert, loaded):
    result = json.loads(run_ecert("summary", "--json").stdout)
    assert result["teachers"] == 1 and result["qualified"] == 0
    assert result["schools"] == [
        {"code": "6540040001", "name": "霍尔果斯市第一小学", "teachers": 1, "qualified": 0}
    ]


@pytest.mark.unmigrated
def test_commands_before_init_say_to_run_init(run_ecert):
    proc = run_ecert("summary", check=False)
    assert proc.returncode == 1 and "ecert init" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_cycle_is_a_clear_error(run_ecert):
    run_ecert("init")
    proc = run_ecert("summary", "--cycle", "9", check=False)
    assert proc.returncode == 1 and "cycle 9" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["roster", "import"],
        ["projects", "import"],
        ["records", "import"],
        ["credits"],
        ["summary"],
        ["init"],
    ],
)
def test_every_command_has_help(run_ecert, args):
    out = run_ecert(*args, "--help").stdout
    assert "Usage:" in out


@pytest.mark.slow
def test_the_installed_command_runs_as_a_process(tmp_path):
    env = {**os.environ, "ECERT_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/e.sqlite3"}
    proc = subprocess.run(
        [sys.executable, "-m", "issuer.cli", "init"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and "已创建" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "issuer.cli", "credits", "6540040710000015"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "错误" in proc.stderr and "Traceback" not in proc.stderr
