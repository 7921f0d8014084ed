"""The ledger's batch sheets (all_sheets, sheets_for, sheet_for) share one
Creditor across teachers and read plain rows; each sheet must be exactly
what the engine makes of that teacher's records alone, whatever mix of
refusals (declared, failed, unapproved, pre-service, out of the cycle)
the records hold and whatever day the sheet is counted to."""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import select, update

from issuer.db import read_session, write_session
from issuer.ledger.credits.engine import compute_sheet
from issuer.ledger.credits.ledger import all_sheets, sheet_for, sheets_for
from issuer.ledger.credits.sheet import RecordInput
from issuer.ledger.importing.projects import import_projects
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.roster import import_roster
from issuer.models import Project, Teacher, TrainingRecord
from scripts.make_sample import generate
from verifier.profiles import load_profile

PROFILE = load_profile("horgos-7")


@pytest.fixture
def mixed(engine, tmp_path):
    """A generated region whose records are then bent into every kind of
    refusal, some projects unapproved and some teachers hired late."""
    generate(tmp_path, teachers=120, schools=6, seed=11)
    with write_session(engine) as s:
        import_projects(s, tmp_path / "projects.csv")
        import_roster(s, tmp_path / "roster.csv", PROFILE)
        import_records(s, tmp_path / "records.csv")
    rng = random.Random(5)
    with write_session(engine) as s:
        ids = list(s.scalars(select(TrainingRecord.id)))
        bends = [
            {"status": "declared"},
            {"status": "rejected"},
            {"grade": "fail"},
            {"completed_on": date(2023, 12, 31)},
            {"completed_on": date(2029, 1, 2)},
            {"role": "lead-trainer"},
        ]
        for values in bends:
            picked = rng.sample(ids, 40)
            s.execute(update(TrainingRecord).where(TrainingRecord.id.in_(picked)).values(**values))
        codes = list(s.scalars(select(Project.code)))
        s.execute(update(Project).where(Project.code.in_(rng.sample(codes, 5))).values(approved=False))
        teachers = list(s.scalars(select(Teacher.id)))
        late = rng.sample(teachers, 15)
        s.execute(update(Teacher).where(Teacher.id.in_(late)).values(hired_on=date(2026, 3, 1)))
    return engine


def _alone(session, holder, as_of):
    """The engine on this teacher's records, read through the ORM, with a
    Creditor of its own."""
    rows = session.execute(
        select(TrainingRecord, Project)
        .join(Project, Project.code == TrainingRecord.project_code)
        .where(TrainingRecord.teacher_id == holder.teacher_id)
    )
    records = [
        RecordInput(
            project_code=p.code,
            level=p.level,
            category=p.category,
            mode=p.mode,
            hours=p.hours,
            approved=p.approved,
            kind=p.kind,
            grade=r.grade,
            role=r.role,
            completed_on=r.completed_on,
            recognised=r.status == "recognised",
        )
        for r, p in rows
    ]
    return compute_sheet(PROFILE, holder.engine_input(), records, as_of)


@pytest.mark.parametrize("as_of", [None, date(2025, 6, 30), date(2026, 11, 23)])
def test_batch_sheets_equal_each_teacher_computed_alone(mixed, as_of):
    with read_session(mixed) as s:
        batch = list(all_sheets(s, PROFILE, as_of=as_of))
        assert len(batch) == 120
        kinds = {r.why.split("，")[0][:4] for _, sheet in batch for r in sheet.records if not r.counts}
        assert len(kinds) >= 4, kinds  # the bends reached the sheets
        for holder, sheet in batch:
            assert sheet == _alone(s, holder, as_of), holder.number
        holders = [h for h, _ in batch[::7]]
        assert [sheet for _, sheet in sheets_for(s, PROFILE, holders, as_of)] == [
            sheet for h, sheet in batch if h in holders
        ]
        assert sheet_for(s, holders[0], PROFILE, as_of) == batch[0][1]
