"""Builders of valid people and files for tests."""

from __future__ import annotations

import csv
from itertools import count
from pathlib import Path

from verifier.numbers import mod11_2

ROSTER_HEADER = ["姓名", "身份证号", "性别", "学校代码", "学校名称", "学段", "入职日期", "职称"]
PROJECT_HEADER = ["项目编号", "项目名称", "项目级别", "课程类别", "培训形式", "学时", "年度", "是否备案"]
RECORD_HEADER = ["身份证号", "项目编号", "考核等次", "角色", "完成日期"]

_seq = count(1)


def id_number(region: str = "654004", born: str = "19850312", seq: int | None = None) -> str:
    body = f"{region}{born}{(seq if seq is not None else next(_seq)) % 1000:03d}"
    return body + mod11_2(body)


def teacher_row(
    name="张三",
    idn=None,
    gender="女",
    school=("6540040001", "霍尔果斯市第一小学"),
    stage="小学",
    hired="2010-09-01",
    title="",
):
    return [name, idn or id_number(), gender, school[0], school[1], stage, hired, title]


def project_row(
    code, level="县市级", category="必修-专业", mode="集中", hours="40", year="2025", approved="是"
):
    return [code, f"{code} 培训", level, category, mode, hours, year, approved]


def record_row(idn, code, grade="合格", role="学员", done="2025-06-01"):
    return [idn, code, grade, role, done]


class Files:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def csv(
        self, name: str, header: list[str], rows: list[list], *, bom: bool = False, encoding: str = "utf-8"
    ) -> Path:
        path = self.folder / name
        with path.open("w", encoding=("utf-8-sig" if bom else encoding), newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
        return path

    def xlsx(self, name: str, header: list[str], rows: list[list]) -> Path:
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(header)
        for r in rows:
            ws.append(r)
        path = self.folder / name
        wb.save(path)
        return path


def load_sample(engine, folder: Path, teachers: int, records_per_teacher: float = 3) -> None:
    """The sample generator's files for `teachers` teachers, imported into a
    migrated database, and a signing key in folder/keys (the passphrase from
    the environment)."""
    from issuer.certificates.keystore import Keystore
    from issuer.db import migrate, write_session
    from issuer.ledger.importing.projects import import_projects
    from issuer.ledger.importing.records import import_records
    from issuer.ledger.importing.roster import import_roster
    from scripts.make_sample import generate
    from verifier.profiles import load_profile

    migrate(engine)
    generate(folder / "in", teachers=teachers, records_per_teacher=records_per_teacher)
    profile = load_profile("horgos-7")
    with write_session(engine) as s:
        import_projects(s, folder / "in" / "projects.csv")
        import_roster(s, folder / "in" / "roster.csv", profile)
        import_records(s, folder / "in" / "records.csv")
        Keystore(folder / "keys", "test").create(s, profile.issuer_code)
