"""`ecert status export`: the register's states and token digests, signed
for offline verification (format in verifier/status.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.models import Certificate
from issuer.storage import Storage
from verifier.clock import as_utc, now_utc
from verifier.profiles import RulesProfile
from verifier.status import SNAPSHOT_FORMAT, VersionState, canonical, snapshot_entry
from verifier.summary import CompactSummary, SheetSummary, SummaryError
from verifier.token import b64u

from .keystore import Signer


class Snapshot(TypedDict):
    """What the snapshot signs (the format in verifier/status.py)."""

    issuer: str
    generated_at: str
    certificates: dict[str, list[list[object]]]  # number → its versions, as snapshot_entry lists each


def build_snapshot(session: Session, profile: RulesProfile) -> Snapshot:
    """Every version of every number of the bureau, with the digest of the
    token issued for it and its summary's compact form (verifier/status.py:
    a snapshot binds tokens and reads credits as the online register does)."""
    c = Certificate
    entries: dict[str, list[list[object]]] = {}
    rows = session.execute(
        select(
            c.number,
            c.state,
            c.changed_at,
            c.revoke_reason,
            c.token_sha256,
            c.issued_at,
            c.verdict,
            c.valid_until,
            c.credits_total,
            c.summary,
        )
        .where(c.bureau_code == profile.issuer_code)
        .order_by(c.number, c.version),
        execution_options={"yield_per": 5000},
    )
    for number, state, changed_at, reason, digest, issued_at, verdict, valid_until, total, summary in rows:
        entries.setdefault(number, []).append(
            snapshot_entry(
                VersionState(
                    state, as_utc(changed_at), reason, digest, as_utc(issued_at), verdict, valid_until, total
                ),
                _compact(summary, profile),
            )
        )
    return {"issuer": profile.issuer_code, "generated_at": now_utc().isoformat(), "certificates": entries}


def _compact(summary: str, profile: RulesProfile) -> CompactSummary | None:
    try:
        return SheetSummary.from_json(summary).to_compact(profile.minimums)
    except SummaryError:
        return None  # read from the token alone offline, as online


STORED_AT = "status/snapshot.json"  # its key in the shared store (issuer/storage.py)


def snapshot_document(snapshot: Snapshot, signer: Signer) -> bytes:
    """The signed file, as `teacher-ecert-status/2` spells it."""
    doc = {
        "format": SNAPSHOT_FORMAT,
        "kid": signer.kid_text,
        "signature": b64u(signer.sign_bytes(canonical(snapshot))),
        "snapshot": snapshot,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_snapshot(snapshot: Snapshot, signer: Signer, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(snapshot_document(snapshot, signer))
    os.replace(tmp, path)  # a verifier refreshing from the file never reads half of it


def publish_snapshot(snapshot: Snapshot, signer: Signer, store: Storage) -> None:
    """Into the shared store, whole or not at all, where every web server
    serves it (/.well-known/status-snapshot.json) to verifiers that run on
    the snapshot alone (ECERT_STATUS=snapshot) and to a CDN in front."""
    store.put(STORED_AT, snapshot_document(snapshot, signer))
