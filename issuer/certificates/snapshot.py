"""`ecert status export`: the register's states and token digests, signed
for offline verification (format in verifier/status.py).

The snapshot is written as it is read, never held as one object: a
region's register streams out in number order, each number's entry in
the canonical JSON the signature covers, into a temporary file. Only the
finished canonical bytes are read back, once, for the Ed25519 signature
(which needs the whole message), and the document is the signed bytes
framed by its header. Holding the snapshot as Python objects took ten
times the file's size (361 MB for 100,000 teachers' 31 MB file; 3.6 GB
projected for a million).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.errors import EcertError
from issuer.models import Certificate
from issuer.storage import Storage
from verifier.clock import as_utc, now_utc
from verifier.profiles import RulesProfile
from verifier.status import SNAPSHOT_FORMAT, VersionState, canonical, snapshot_entry
from verifier.summary import CompactSummary, SheetSummary, SummaryError
from verifier.token import b64u

from .keystore import Signer

STORED_AT = "status/snapshot.json"  # its key in the shared store (issuer/storage.py)
_COLUMNS = (
    Certificate.number,
    Certificate.state,
    Certificate.changed_at,
    Certificate.revoke_reason,
    Certificate.token_sha256,
    Certificate.issued_at,
    Certificate.verdict,
    Certificate.valid_until,
    Certificate.credits_total,
    Certificate.summary,
)


class SnapshotOrderError(EcertError):
    """The database gave the numbers out of code-point order: the canonical
    JSON (sorted keys) cannot be written as they come."""


@dataclass(frozen=True)
class SignedSnapshot:
    """A signed snapshot document in a temporary file (`path`), and what it holds."""

    path: Path
    numbers: int
    kid: str

    def open(self) -> IO[bytes]:
        return self.path.open("rb")


@contextmanager
def signed_snapshot(session: Session, profile: RulesProfile, signer: Signer) -> Iterator[SignedSnapshot]:
    """Every version of every number of the bureau, with the digest of the
    token issued for it and its summary's compact form (verifier/status.py:
    a snapshot binds tokens and reads credits as the online register does),
    signed; the temporary files are removed on leaving."""
    with tempfile.TemporaryDirectory(prefix="ecert-snapshot-") as tmp:
        body, document = Path(tmp) / "snapshot.json", Path(tmp) / "document.json"
        with body.open("wb") as out:
            numbers = _write_canonical(session, profile, out)
        data = body.read_bytes()
        signature = b64u(signer.sign_bytes(data))
        with document.open("wb") as out:
            out.write(_header(signer.kid_text, signature))
            out.write(data)
            out.write(b"}")
        del data
        body.unlink()
        yield SignedSnapshot(document, numbers, signer.kid_text)


def _header(kid: str, signature: str) -> bytes:
    """The document up to its snapshot, as `teacher-ecert-status/2` spells it."""
    head = {"format": SNAPSHOT_FORMAT, "kid": kid, "signature": signature}
    return json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1].encode() + b',"snapshot":'


def _write_canonical(session: Session, profile: RulesProfile, out: IO[bytes]) -> int:
    """The snapshot's canonical JSON (verifier/status.py, `canonical`: keys
    sorted, so certificates, generated_at, issuer; numbers in code-point
    order), one number at a time. Returns how many numbers it holds."""
    out.write(b'{"certificates":{')
    numbers, last = 0, ""
    for number, versions in _versions(session, profile):
        if number <= last:
            raise SnapshotOrderError(
                f"数据库返回的证书编号顺序不对（{number} 在 {last} 之后），状态快照未写出",
                f"the database returned {number} after {last}: the snapshot needs numbers in "
                "code-point order (a collation that sorts otherwise cannot be streamed); nothing was written",
            )
        out.write((b"," if numbers else b"") + canonical(number) + b":" + canonical(versions))
        numbers, last = numbers + 1, number
    tail = {"generated_at": now_utc().isoformat(), "issuer": profile.issuer_code}
    out.write(b"}," + canonical(tail)[1:])
    return numbers


def _versions(session: Session, profile: RulesProfile) -> Iterator[tuple[str, list[list[object]]]]:
    """(number, its versions as snapshot_entry lists them), in number order."""
    rows = session.execute(
        select(*_COLUMNS)
        .where(Certificate.bureau_code == profile.issuer_code)
        .order_by(Certificate.number, Certificate.version),
        execution_options={"yield_per": 5000},
    )
    number, versions = "", list[list[object]]()
    for n, state, changed_at, reason, digest, issued_at, verdict, valid_until, total, summary in rows:
        if n != number and versions:
            yield number, versions
            versions = []
        number = n
        state_now = VersionState(
            state, as_utc(changed_at), reason, digest, as_utc(issued_at), verdict, valid_until, total
        )
        versions.append(snapshot_entry(state_now, _compact(summary, profile)))
    if versions:
        yield number, versions


def _compact(summary: str, profile: RulesProfile) -> CompactSummary | None:
    try:
        return SheetSummary.from_json(summary).to_compact(profile.minimums)
    except SummaryError:
        return None  # read from the token alone offline, as online


def write_snapshot(snapshot: SignedSnapshot, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        shutil.copyfile(snapshot.path, tmp)
        os.replace(tmp, path)  # a verifier refreshing from the file never reads half of it
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def publish_snapshot(snapshot: SignedSnapshot, store: Storage) -> None:
    """Into the shared store, whole or not at all, where every web server
    serves it (/.well-known/status-snapshot.json) to verifiers that run on
    the snapshot alone (ECERT_STATUS=snapshot) and to a CDN in front."""
    with snapshot.open() as f:
        store.put(STORED_AT, f)
