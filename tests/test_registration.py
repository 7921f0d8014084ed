"""One person, one number: unique and gap-free under concurrent imports,
including imports that roll back after drawing numbers."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from issuer.db import read_session, write_session
from issuer.ledger.importing.roster import import_roster
from issuer.models import NumberSequence, Registration, Teacher
from tests.builders import ROSTER_HEADER, id_number, teacher_row
from verifier.numbers import CertificateNumber
from verifier.profiles import load_profile

HORGOS = load_profile("horgos-7")


class Deliberate(Exception):
    """Raised inside a transaction to roll it back after it drew numbers."""


def test_parallel_imports_give_unique_gap_free_numbers(engine, files):
    rng = random.Random(11)
    people = [id_number(seq=i, born=f"19{70 + i // 900}0101") for i in range(600)]
    jobs = []
    for j in range(16):
        chosen = rng.sample(people, 60)  # files overlap: some teachers are in several
        path = files.csv(
            f"r{j}.csv",
            ROSTER_HEADER,
            [teacher_row(f"教师{chr(0x4E00 + k)}", p) for k, p in enumerate(chosen)],
        )
        jobs.append((path, chosen, j % 4 == 3))  # every fourth import rolls back
    workers = 8 if engine.dialect.name == "postgresql" else 4
    start = threading.Barrier(workers)  # each round of imports starts together

    def run(job):
        path, _, rollback = job
        start.wait(timeout=60)
        try:
            with write_session(engine) as s:
                import_roster(s, path, HORGOS)
                if rollback:
                    raise Deliberate
        except Deliberate:
            return False
        return True

    with ThreadPoolExecutor(max_workers=workers) as pool:
        committed = list(pool.map(run, jobs))
    expected = {p for (path, chosen, rb), ok in zip(jobs, committed, strict=True) if ok for p in chosen}

    with read_session(engine) as s:
        regs = s.execute(
            select(Teacher.id_number, Registration.seq, Registration.number).join(
                Registration, Registration.teacher_id == Teacher.id
            )
        ).all()
        last = s.scalar(select(NumberSequence.last))
    assert {r.id_number for r in regs} == expected  # every committed teacher, once
    assert sorted(r.seq for r in regs) == list(range(1, len(expected) + 1))  # no gap, no duplicate
    assert last == len(expected)
    for r in regs:
        n = CertificateNumber.parse(r.number)
        assert (n.bureau, n.cycle, n.kind, n.seq) == ("654004", 7, 1, r.seq)


def test_a_teacher_keeps_her_number_across_cycles_and_reimports(engine, files):
    a = id_number()
    path = files.csv("r.csv", ROSTER_HEADER, [teacher_row(idn=a)])
    for _ in range(3):
        with write_session(engine) as s:
            import_roster(s, path, HORGOS)
    with read_session(engine) as s:
        assert s.scalars(select(Registration.number)).all() == ["6540040710000014"]
