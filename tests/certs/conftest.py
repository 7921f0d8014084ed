"""A small bureau with keys and three teachers: one who meets every minimum,
two who do not."""

from __future__ import annotations

import json

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

PASSPHRASE = "correct horse battery staple"
# (code, level, category, mode, hours): 5+15+10+20+10+10+20 = 90 credits
FULL = [
    ("Z-PUB", "州级", "必修-公共", "集中", "20"),
    ("Z-PRO", "州级", "必修-专业", "集中", "60"),
    ("X-PUB", "县市级", "必修-公共", "集中", "40"),
    ("X-PRO", "县市级", "必修-专业", "集中", "80"),
    ("X-DIG", "县市级", "必修-数字素养", "集中", "40"),
    ("X-ELE", "县市级", "选修", "集中", "40"),
    ("S-SCH", "校级", "校本", "校本", "100"),
]


@pytest.fixture(autouse=True)
def _fresh_register():
    """Each test's in-memory register (tests/certs/tokens.py) starts empty."""
    from .tokens import ISSUED_TOKENS

    ISSUED_TOKENS.clear()
    yield
    ISSUED_TOKENS.clear()


@pytest.fixture
def keyed(run_ecert, monkeypatch, tmp_path):
    monkeypatch.setenv("ECERT_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("ECERT_ACTOR", "测试员")
    run_ecert("init")
    run_ecert("keys", "init")
    return run_ecert


@pytest.fixture
def bureau(keyed, files):
    """Returns the three teachers' ID numbers: qualified, short, short."""
    ids = [id_number(seq=s) for s in (101, 102, 103)]
    keyed(
        "projects",
        "import",
        str(
            files.csv(
                "p.csv",
                PROJECT_HEADER,
                [
                    project_row(code, level=lvl, category=cat, mode=mode, hours=h, year="2025")
                    for code, lvl, cat, mode, h in FULL
                ],
            )
        ),
    )
    keyed(
        "roster",
        "import",
        str(
            files.csv(
                "r.csv",
                ROSTER_HEADER,
                [
                    teacher_row("热依拉·阿不都热合曼", ids[0]),
                    teacher_row("王芳", ids[1]),
                    teacher_row("李娜", ids[2]),
                ],
            )
        ),
    )
    rows = [record_row(ids[0], code, done="2025-06-01") for code, *_ in FULL]
    rows += [record_row(ids[1], "X-ELE"), record_row(ids[2], "S-SCH")]
    keyed("records", "import", str(files.csv("rec.csv", RECORD_HEADER, rows)))
    return ids


def show(run, number: str) -> dict:
    return json.loads(run("show", number, "--json").stdout)


def verify(run, value: str, *args: str) -> dict:
    return json.loads(run("verify", value, "--json", *args, check=False).stdout)
