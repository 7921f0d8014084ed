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


# -- what a clerk types wrong, said in Chinese and English ---------------------------


@pytest.mark.parametrize("command", ["roster", "projects", "records"])
def test_a_missing_import_file_is_named_in_chinese_and_english(run_ecert, tmp_path, command):
    run_ecert("init")
    missing = tmp_path / "名册-2025.csv"
    r = run_ecert(command, "import", str(missing), check=False)
    assert r.returncode == 2, r.stderr
    assert f"找不到文件：{missing}" in r.stderr and f"{missing}: no such file" in r.stderr
    assert "does not exist" not in r.stderr and "Traceback" not in r.stderr
    folder = run_ecert(command, "import", str(tmp_path), check=False)
    assert folder.returncode == 2 and "是文件夹，不是文件" in folder.stderr and "is a folder" in folder.stderr


@pytest.mark.parametrize(
    "args, zh, en",
    [
        (["roster", "import"], "缺少参数 'FILE'", "Missing argument 'FILE'"),
        (["records", "import", "x.csv", "--nope"], "没有选项 --nope", "No such option"),
        (["summary", "--cycle", "七"], "'--cycle' 的值不正确", "is not a valid integer"),
        (["credits", "1", "--cycle"], "选项 --cycle 用法不正确", "requires an argument"),
        (["sumary"], "没有命令 sumary（是否想用 summary？）", "No such command"),
        (["--bogus"], "没有选项 --bogus", "No such option"),
    ],
)
def test_usage_errors_are_said_in_chinese_and_english(run_ecert, args, zh, en):
    r = run_ecert(*args, check=False)
    assert r.returncode == 2 and zh in r.stderr and en in r.stderr, r.stderr
    assert "用法 / Usage:" in r.stderr and "--help" in r.stderr and "Traceback" not in r.stderr


def test_a_group_alone_still_shows_its_help(run_ecert):
    r = run_ecert("roster", check=False)
    assert "import" in r.stdout + r.stderr and "错误" not in r.stdout + r.stderr


HELP_EXAMPLES = [
    ["init"],
    ["roster", "import"],
    ["projects", "import"],
    ["records", "import"],
    ["credits"],
    ["summary"],
    ["keys", "init"],
    ["issue"],
    ["show"],
    ["verify"],
    ["revoke"],
    ["pdf"],
    ["render"],
    ["serve"],
    ["passwords", "issue"],
    ["status", "export"],
]


@pytest.mark.parametrize("args", HELP_EXAMPLES, ids=" ".join)
def test_the_main_commands_help_ends_with_an_example(run_ecert, args):
    lines = [line.strip() for line in run_ecert(*args, "--help").stdout.splitlines() if line.strip()]
    assert lines[-2] == "例 / example:", lines[-4:]
    assert lines[-1].startswith(f"ecert {' '.join(args)} ") or lines[-1] == f"ecert {' '.join(args)}", lines[
        -1
    ]


# -- the encodings and files Chinese Excel makes ------------------------------------


def test_a_gb18030_roster_imports_and_says_how_it_was_read(run_ecert, files):
    run_ecert("init")
    ids = [id_number(), id_number()]
    path = files.csv(
        "名册.csv",
        ROSTER_HEADER,
        [teacher_row("热依拉·阿不都热合曼", ids[0]), teacher_row("张喆堃", ids[1])],
        encoding="gb18030",
    )
    out = run_ecert("roster", "import", str(path)).stdout
    assert "新增 2" in out and "按 GB18030 编码读取" in out and "read as GB18030" in out
    assert "张喆堃" in run_ecert("credits", ids[1]).stdout
    assert "热依拉·阿不都热合曼" in run_ecert("credits", ids[0]).stdout


def test_a_broken_xlsx_is_said_to_be_one_not_a_text_in_another_encoding(run_ecert, files):
    run_ecert("init")
    fake = files.folder / "名册.xlsx"  # a CSV saved by Excel (GBK) under an .xlsx name
    fake.write_bytes(",".join(ROSTER_HEADER).encode("gbk") + b"\r\n" + ",".join(teacher_row()).encode("gbk"))
    r = run_ecert("roster", "import", str(fake), check=False)
    assert r.returncode == 2 and "不是有效的 .xlsx 文件" in r.stderr and "not a valid XLSX file" in r.stderr
    assert "UTF-8" not in r.stderr and "GB18030" not in r.stderr


# -- new schools -----------------------------------------------------------------------


def test_a_roster_naming_a_new_school_needs_new_schools(run_ecert, files):
    run_ecert("init")
    first = run_ecert("roster", "import", str(files.csv("r1.csv", ROSTER_HEADER, [teacher_row()]))).stdout
    assert "首次导入名册" in first and "新建学校 1 所" in first and "6540040001" in first
    path = files.csv(
        "r2.csv",
        ROSTER_HEADER,
        [teacher_row(), teacher_row(school=("6540040099", "霍尔果斯市第九十九小学")), teacher_row()],
    )
    r = run_ecert("roster", "import", str(path), check=False)
    assert r.returncode == 2 and "被整体拒收" in r.stderr and "6540040099" in r.stderr
    assert "--new-schools" in r.stderr and "见第 3 行" in r.stderr
    assert json.loads(run_ecert("summary", "--json").stdout)["teachers"] == 1  # nothing stored
    out = run_ecert("roster", "import", str(path), "--new-schools").stdout
    assert "新增 3" in out and "新建学校 1 所" in out and "6540040099 霍尔果斯市第九十九小学" in out
    assert "首次" not in out


# -- the progress bar ------------------------------------------------------------------


def test_a_large_import_shows_a_bar_on_stderr_and_a_small_one_none(run_ecert, files):
    from issuer.cli.commands import BAR_MIN_ROWS

    run_ecert("init")
    small = run_ecert("projects", "import", str(files.csv("s.csv", PROJECT_HEADER, [project_row("S-1")])))
    assert small.stderr == "" and "已导入" in small.stdout
    n = BAR_MIN_ROWS + 1
    big = files.csv("b.csv", PROJECT_HEADER, [project_row(f"B-{i}") for i in range(n)])
    r = run_ecert("projects", "import", str(big))
    for label in ("读取 read", "校验 check", "写入 write"):
        assert label in r.stderr and label not in r.stdout, r.stderr
    assert f"{n}/{n}" in r.stderr
    assert r.stdout.startswith("已导入") and f"{n} 行，新增 {n}" in r.stdout
