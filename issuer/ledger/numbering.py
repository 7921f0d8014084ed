"""Registering teachers for a cycle: "one person, one number".

The number is assigned once, inside the transaction that registers the
teacher. The sequence row is locked first (SELECT ... FOR UPDATE on
PostgreSQL; BEGIN IMMEDIATE on SQLite), so concurrent imports take turns,
and a rolled-back import returns its numbers: no gap, no duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from issuer.models import NumberSequence, Registration
from verifier.numbers import CERT_KIND_CYCLE, CertificateNumber

CHUNK = 900  # stays under SQLite's bound-parameter limit

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def lock_sequence(session: Session, bureau: str, cycle: int, kind: int = CERT_KIND_CYCLE) -> int:
    """Take the sequence's row lock for the rest of the transaction; return
    the last number handed out."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(NumberSequence)
        .values(bureau_code=bureau, cycle=cycle, kind=kind, last=0)
        .on_conflict_do_nothing()
    )
    return session.execute(
        select(NumberSequence.last)
        .where(
            NumberSequence.bureau_code == bureau, NumberSequence.cycle == cycle, NumberSequence.kind == kind
        )
        .with_for_update()
    ).scalar_one()


def register(
    session: Session, teacher_ids: Sequence[int], *, bureau: str, cycle: int, kind: int = CERT_KIND_CYCLE
) -> list[tuple[int, str]]:
    """Register each teacher not yet registered for the cycle, in the order
    given; return (teacher_id, number) of the new registrations. The caller
    must already hold the sequence lock (lock_sequence)."""
    registered: set[int] = set()
    for part in chunks(list(teacher_ids)):
        registered.update(
            session.scalars(
                select(Registration.teacher_id).where(
                    Registration.cycle == cycle,
                    Registration.bureau_code == bureau,
                    Registration.teacher_id.in_(part),
                )
            )
        )
    fresh = [t for t in dict.fromkeys(teacher_ids) if t not in registered]
    if not fresh:
        return []
    last = lock_sequence(session, bureau, cycle, kind)
    out: list[tuple[int, str]] = []
    rows: list[dict[str, Any]] = []
    for offset, teacher_id in enumerate(fresh, start=1):
        number = CertificateNumber(bureau, cycle, kind, last + offset).compact
        rows.append(
            {
                "teacher_id": teacher_id,
                "bureau_code": bureau,
                "cycle": cycle,
                "kind": kind,
                "seq": last + offset,
                "number": number,
            }
        )
        out.append((teacher_id, number))
    session.execute(Registration.__table__.insert(), rows)
    session.execute(
        update(NumberSequence)
        .where(
            NumberSequence.bureau_code == bureau, NumberSequence.cycle == cycle, NumberSequence.kind == kind
        )
        .values(last=last + len(fresh))
    )
    return out
