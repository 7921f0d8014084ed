"""The sample data set: reproducible from its script, and importable."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from issuer.db import read_session, write_session
from issuer.ledger.credits.ledger import all_sheets
from issuer.ledger.importing.projects import import_projects
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.roster import import_roster
from scripts.make_sample import DEFAULT_UNTIL, generate
from verifier.profiles import load_profile

SAMPLE = Path(__file__).resolve().parent.parent / "sample"


def test_committed_sample_is_what_the_script_generates(tmp_path):
    generate(tmp_path)
    for name in ("roster.csv", "projects.csv", "records.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_a_generated_set_imports_cleanly_and_has_both_verdicts(engine, tmp_path):
    counts = generate(tmp_path, teachers=150, schools=8, seed=3)
    profile = load_profile("horgos-7")
    with write_session(engine) as s:
        import_projects(s, tmp_path / "projects.csv")
        import_roster(s, tmp_path / "roster.csv", profile)
        result = import_records(s, tmp_path / "records.csv")
    assert result.created == counts["records.csv"]
    with read_session(engine) as s:
        verdicts = [sheet.qualified for _, sheet in all_sheets(s, profile)]
    assert len(verdicts) == 150 and any(verdicts) and not all(verdicts)


def _latest(folder: Path) -> tuple[date, date]:
    """The latest 完成日期 of records.csv and 入职日期 of roster.csv."""

    def column(name: str, header: str) -> list[date]:
        with (folder / name).open(encoding="utf-8", newline="") as f:
            return [date.fromisoformat(row[header]) for row in csv.DictReader(f)]

    return max(column("records.csv", "完成日期")), max(column("roster.csv", "入职日期"))


def test_nothing_is_completed_or_hired_after_the_cut_off(tmp_path):
    until = date(2025, 3, 31)
    counts = generate(tmp_path, teachers=200, until=until)
    assert counts["records.csv"] > 0
    completed, hired = _latest(tmp_path)
    assert completed <= until and hired <= until
    with (tmp_path / "projects.csv").open(encoding="utf-8", newline="") as f:
        assert {row["年度"] for row in csv.DictReader(f)} == {"2024", "2025"}
    # the committed sample stands as of the default cut-off
    assert date(2026, 6, 30) == DEFAULT_UNTIL
    completed, hired = _latest(SAMPLE)
    assert completed <= DEFAULT_UNTIL and hired <= DEFAULT_UNTIL
