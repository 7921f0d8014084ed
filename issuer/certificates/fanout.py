"""Issuance over processes: both cores for a large batch.

Most of a run is pure computation (credit sheets, claims, signatures, the
summaries' JSON); writing is a small part. So worker processes plan the
chunks (a range of teachers each, read and decided in a read-only
session, tokens signed), and this process stores them in order, one
transaction a chunk, exactly as `Issuer.run` would: certificate versions,
audit chain and counts come out the same, only sooner.

A plan is stored only if nothing it rests on changed while it was made:
inside the chunk's transaction, with its registrations locked, the newest
versions of its numbers, the key windows and the active key are read
again and must equal what the worker saw. Otherwise the chunk is decided
again here, in the transaction, as the one-process run decides every
chunk (another issuer or a `keys rotate` ran meanwhile: rare, and safe).

Workers are forked, so they share the opened signing key without it
passing through a pipe or the passphrase through their environment. A
database in memory has nothing to share, and a process that may not
fork (a daemonic Celery child) runs the chunks itself.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy.orm import Session

from issuer.db import read_session, write_session
from issuer.ledger.credits.ledger import all_sheets, holder_ids, sheets_for
from issuer.processes import die_with_parent
from verifier.clock import now_utc

from .issuance import (
    CHUNK,
    Decision,
    IssueOptions,
    Issuer,
    IssueSummary,
    Latest,
    key_windows,
    latest_versions,
    lock_registrations,
)
from .keystore import Signer

AHEAD = 2  # chunks planned ahead per worker: enough to keep them busy, bounded memory


@dataclass(frozen=True)
class Plan:
    """One chunk as a worker decided it, and what the decision rested on."""

    decisions: list[Decision]
    kid: str
    keys: dict[str, tuple[datetime, datetime | None, datetime | None]]


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run(
    issuer: Issuer,
    options: IssueOptions,
    progress: Callable[[int], None] = lambda n: None,
    signer: Signer | None = None,
    workers: int | None = None,
) -> IssueSummary:
    """Issuer.run, its chunks planned by `workers` processes (default: one
    a core) where that can help: several chunks, a database other processes
    can open, a process allowed to fork."""
    issuer.check_options(options)
    if signer is None:
        signer = issuer.open_keys()
    workers = default_workers() if workers is None else workers
    if workers < 2 or options.teacher or not _can_fork(issuer):
        return issuer.run(options, progress, signer)
    with read_session(issuer.engine) as session:
        ids = holder_ids(session, issuer.profile, school=options.school)
    ranges = [(ids[i], ids[min(i + CHUNK, len(ids)) - 1]) for i in range(0, len(ids), CHUNK)]
    if len(ranges) < 2:
        return issuer.run(options, progress, signer)
    summary = IssueSummary()
    for plan in _planned(issuer, signer, options, ranges, workers):
        with write_session(issuer.engine) as session:
            signer = _store(issuer, session, signer, options, plan, summary)
        progress(len(plan.decisions))
    return summary


def _can_fork(issuer: Issuer) -> bool:
    url = issuer.engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    daemonic = multiprocessing.current_process().daemon  # may not have children
    return not in_memory and not daemonic and "fork" in multiprocessing.get_all_start_methods()


# -- in this process ---------------------------------------------------------


def _planned(
    issuer: Issuer, signer: Signer, options: IssueOptions, ranges: list[tuple[int, int]], workers: int
) -> Iterator[Plan]:
    """Each range's plan, in order, at most AHEAD a worker in flight."""
    global _FORKED
    _FORKED = (issuer, signer, options)
    context = multiprocessing.get_context("fork")
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_forked) as pool:
            todo = iter(ranges)
            pending = deque(pool.submit(_plan, bounds) for bounds in islice(todo, workers * AHEAD))
            while pending:
                plan = pending.popleft().result()
                following = next(todo, None)
                if following is not None:
                    pending.append(pool.submit(_plan, following))
                yield plan
    finally:
        _FORKED = None


def _store(
    issuer: Issuer,
    session: Session,
    signer: Signer,
    options: IssueOptions,
    plan: Plan,
    summary: IssueSummary,
) -> Signer:
    """The plan stored if it still holds, else the chunk decided afresh."""
    signer = issuer.active_signer(session, signer)
    numbers = [d.holder.number for d in plan.decisions]
    lock_registrations(session, numbers)
    seen: dict[str, Latest | None] = {d.holder.number: d.prev for d in plan.decisions}
    latest = latest_versions(session, numbers)
    holds = (
        signer.kid_text == plan.kid
        and all(latest.get(n) == prev for n, prev in seen.items())
        and key_windows(session) == plan.keys
    )
    now = now_utc().replace(microsecond=0)
    if not holds:  # decided again here, the key active and the registrations locked already
        chunk = sheets_for(session, issuer.profile, [d.holder for d in plan.decisions], options.as_of)
        plan = Plan(issuer.decide(session, signer, chunk, options, now), signer.kid_text, plan.keys)
    issuer.store(session, plan.decisions, now, summary)
    return signer


# -- in a worker -------------------------------------------------------------

_FORKED: tuple[Issuer, Signer, IssueOptions] | None = None


def _forked() -> None:
    """A worker's start: it goes when this process goes (killed mid-run, it
    would keep the pipes and its chunk alive), and the parent's pooled
    connections are not its own."""
    die_with_parent(signal.SIGKILL)
    assert _FORKED is not None
    _FORKED[0].engine.dispose(close=False)


def _plan(bounds: tuple[int, int]) -> Plan:
    assert _FORKED is not None
    issuer, signer, options = _FORKED
    with read_session(issuer.engine) as session:
        sheets = list(
            all_sheets(session, issuer.profile, school=options.school, as_of=options.as_of, teachers=bounds)
        )
        keys = key_windows(session)
        now = now_utc().replace(microsecond=0)
        decisions = issuer.decide(session, signer, sheets, options, now)
    return Plan(decisions, signer.kid_text, keys)
