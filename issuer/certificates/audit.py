"""The append-only audit log: every issuance, reissue, revocation and key
event, each entry chained to the one before by SHA-256.

    hash = sha256(prev_hash || "\\n" || canonical JSON of {seq, at, actor,
                                                            action, subject, detail})

Appends lock the single audit_head row, so concurrent writers take turns and
the chain has no fork. The table refuses UPDATE and DELETE (triggers).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.models import AuditEntry, AuditHead
from verifier.clock import as_utc, now_utc

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class Event:
    action: str
    subject: str
    detail: Mapping[str, object]  # written as canonical JSON


def entry_hash(
    prev_hash: str, seq: int, at: datetime, actor: str, action: str, subject: str, detail: str
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": as_utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def append(session: Session, actor: str, events: Iterable[Event]) -> int:
    """Append events in order, inside the caller's transaction."""
    events = list(events)
    if not events:
        return 0
    head = _lock_head(session)
    at = now_utc()
    rows = []
    for ev in events:
        seq = head.seq + 1
        detail = json.dumps(ev.detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        h = entry_hash(head.hash, seq, at, actor, ev.action, ev.subject, detail)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "actor": actor,
                "action": ev.action,
                "subject": ev.subject,
                "detail": detail,
                "prev_hash": head.hash,
                "hash": h,
            }
        )
        head.seq, head.hash = seq, h
    session.execute(AuditEntry.__table__.insert(), rows)
    return len(rows)


def _lock_head(session: Session) -> AuditHead:
    head = session.scalars(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()).first()
    if head is None:
        head = AuditHead(id=HEAD_ID, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


@dataclass(frozen=True)
class ChainReport:
    entries: int
    ok: bool
    problem: str = ""


def verify_chain(session: Session) -> ChainReport:
    """Recompute every hash; the first break is named by its sequence number."""
    rows = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq), execution_options={"yield_per": 5000}
    ).scalars()
    try:
        n, prev, problem = _walk(rows)
    finally:
        rows.close()  # a server-side cursor on PostgreSQL, left early on a break
    if problem:
        return ChainReport(n, False, problem)
    head = session.get(AuditHead, HEAD_ID)
    if head is not None and (head.seq, head.hash) != (n, prev):
        return ChainReport(
            n,
            False,
            f"the chain ends at entry {n}, but the head says {head.seq}: entries were removed from the end",
        )
    return ChainReport(n, True)


def _walk(rows: Iterable[AuditEntry]) -> tuple[int, str, str]:
    """(good entries, last good hash, the first problem or "")."""
    prev, n, expected_seq = GENESIS, 0, 1
    for e in rows:
        if e.seq != expected_seq:
            return n, prev, f"entry {expected_seq} is missing (next is {e.seq})"
        if e.prev_hash != prev:
            return n, prev, f"entry {e.seq} does not point at entry {e.seq - 1}"
        if entry_hash(prev, e.seq, e.at, e.actor, e.action, e.subject, e.detail) != e.hash:
            return n, prev, f"entry {e.seq} ({e.action} {e.subject}) was altered"
        prev, n, expected_seq = e.hash, n + 1, e.seq + 1
    return n, prev, ""
