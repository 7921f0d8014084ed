"""Every teacher's row of the office's table, kept in the process between
requests, for the filters that need every sheet ("short of X").

Computing the region's sheets takes half a second for 2,400 teachers; a
page of a filter shows 100 of them. So rows are computed block by block
in teacher order only as far as a page needs them (page 1 of "short of
anything" needs the first hundred or so teachers), and the next page
extends what the last one left. The rows are kept under the ledger's
version (migration 0009: a counter that triggers bump, in the writer's own
transaction, on every change to the records, teachers, registrations,
projects and schools a row is made of), the rules profile and the as-of
day, so kept rows are used only while exactly that ledger is current.

The version is read before the ledger. On SQLite both are read in the
session's one snapshot; on PostgreSQL (read committed) the ledger may be
newer than the version read: such rows are kept under the older version
and recomputed at the next request, which sees the newer one. A version
never labels rows older than itself.

Kept per database (a process may serve, or a test run open, several),
one entry for the region and one per school asked for alone, all dropped
as soon as the version moves. Each web worker keeps its own.
Only reading sessions use them: a session that writes (write_session)
computes its rows afresh, since it sees changes it may yet roll back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from issuer.models import LedgerVersion


class OfSchool(Protocol):
    @property
    def school_code(self) -> str: ...


R = TypeVar("R", bound=OfSchool)


# What `more` gives: the rows of the next teachers after a cursor (None:
# from the first), and the cursor after them (None: there are no more).
More = Callable[[str | None, int | None, int], tuple[Sequence[R], int | None]]
FIRST_BLOCK, LAST_BLOCK = 128, 2048  # teachers a block: a first page soon, then fewer queries


@dataclass
class _Kept(Generic[R]):
    """The rows of the first teachers, in order, as far as requests needed them."""

    key: tuple[Hashable, int]
    rows: list[R] = field(default_factory=list)
    cursor: int | None = None
    done: bool = False

    def extend(self, more: More[R], school: str | None, enough: Callable[[Sequence[R]], bool]) -> None:
        block = FIRST_BLOCK
        while not self.done and not enough(self.rows):
            rows, self.cursor = more(school, self.cursor, block)
            self.rows.extend(rows)
            self.done = self.cursor is None
            block = min(block * 2, LAST_BLOCK)


def ledger_version(session: Session) -> int | None:
    """The ledger's version; None if its row is missing (then nothing is kept)."""
    return session.scalar(select(LedgerVersion.version).where(LedgerVersion.id == 1))


class RowCache(Generic[R]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # By the engine's pool: one a database, whatever execution options an
        # engine was copied with (write_session's, say).
        self._kept: WeakKeyDictionary[Pool, dict[str | None, _Kept[R]]] = WeakKeyDictionary()

    def rows(
        self,
        session: Session,
        key: Hashable,
        school: str | None,
        more: More[R],
        enough: Callable[[Sequence[R]], bool] = lambda rows: False,
    ) -> Sequence[R]:
        """The rows of `school` (None: the region) in teacher order, as
        `more` makes them in this session, block by block, or as it made
        them for the same key and ledger version before: all of them, or
        a first part of them of which `enough` says it is enough (a page
        needs the teachers up to its last row and one more, not all). The
        region's rows serve a school once they are complete."""
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        if (
            engine.get_execution_options().get("ecert_write")
            or session.new
            or session.dirty
            or session.deleted
        ):
            # A transaction that writes sees its own changes before anyone else
            # and may yet roll them back: what it computes is its own.
            return _fresh(more, school, enough)
        version = ledger_version(session)  # before the ledger: see the module's docstring
        if version is None:
            return _fresh(more, school, enough)
        full = (key, version)
        # One computation at a time: a second request for the same rows waits
        # and reuses them rather than computing them again beside the first.
        with self._lock:
            kept = self._kept.setdefault(engine.pool, {})
            region = kept.get(None)
            if school is not None and region is not None and region.key == full and region.done:
                return [r for r in region.rows if r.school_code == school]
            for stale in [k for k, v in kept.items() if v.key != full]:
                del kept[stale]
            mine = kept.setdefault(school, _Kept(full))
            mine.extend(more, school, enough)
            return tuple(mine.rows)  # a later request may extend the list

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


def _fresh(more: More[R], school: str | None, enough: Callable[[Sequence[R]], bool]) -> Sequence[R]:
    kept: _Kept[R] = _Kept(((), 0))
    kept.extend(more, school, enough)
    return kept.rows
