"""Where a certificate stands in the register: current, superseded or revoked.

Online, the verifier reads the register's table; offline, a status snapshot
that `ecert status export` writes and signs with the bureau's current key:

    {"format": "teacher-ecert-status/1", "kid": "<base64url>",
     "signature": "<base64url Ed25519 over the canonical JSON of snapshot>",
     "snapshot": {"issuer": "654004", "generated_at": "<ISO 8601>",
                  "certificates": {"<number>": [[state, changed_at, reason], ...]}}}

Each number lists its versions in order (version 1 first). Canonical JSON:
sorted keys, no spaces, UTF-8.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import DBAPIError

from verifier import schema
from verifier.clock import as_utc
from verifier.files import read_json
from verifier.keyset import KeySet
from verifier.token import from_b64u

SNAPSHOT_FORMAT = "teacher-ecert-status/1"
STATES = ("current", "superseded", "revoked")
MAX_SNAPSHOT_BYTES = 200_000_000


class SnapshotError(ValueError):
    """A status snapshot that cannot be trusted or read."""


@dataclass(frozen=True)
class VersionState:
    state: str
    changed_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class NumberStatus:
    number: str
    versions: tuple[VersionState, ...]  # version 1 first

    @property
    def latest(self) -> int:
        return len(self.versions)

    def of(self, version: int) -> VersionState | None:
        return self.versions[version - 1] if 1 <= version <= len(self.versions) else None


class StatusSource(Protocol):
    description: str

    def lookup(self, number: str) -> NumberStatus | None: ...


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class DatabaseStatus:
    """The register, read one statement at a time in autocommit on a
    connection kept per thread: a pool checkout and a transaction per token
    cost more than the signature check, and no transaction is held open (on
    SQLite a held one would keep showing an old snapshot).

    The statement is compiled once for the engine's dialect and run on the
    driver's own cursor, its columns converted by their types' result
    processors: SQLAlchemy's execute path cost ten times the query itself
    (about 45 µs of a verification's 300, benchmarks/bench_verifier.py)."""
    description = "online register"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        t = schema.certificates
        columns = (t.c.version, t.c.state, t.c.changed_at, t.c.revoke_reason)
        compiled = (select(*columns).where(t.c.number == bindparam("number"))
                    .order_by(t.c.version).compile(dialect=engine.dialect))
        self._sql = str(compiled)
        self._positional = compiled.positional
        dialect = engine.dialect
        self._convert = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        self._driver_error = dialect.loaded_dbapi.Error

    def lookup(self, number: str) -> NumberStatus | None:
        try:
            rows = self._rows(number)
        except (DBAPIError, self._driver_error):
            self.close(broken=True)  # a dropped connection: one retry on a fresh one
            rows = self._rows(number)
        if not rows:
            return None
        return NumberStatus(number, tuple(VersionState(state, as_utc(changed), reason)
                                          for _version, state, changed, reason in rows))

    def _rows(self, number: str) -> list[tuple]:
        cursor = self._connection().connection.dbapi_connection.cursor()
        try:
            cursor.execute(self._sql, (number,) if self._positional else {"number": number})
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [tuple(f(v) if f else v for f, v in zip(self._convert, row)) for row in rows]

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._local.conn = conn
        return conn

    def close(self, broken: bool = False) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            if broken:
                conn.invalidate()  # not back to the pool: the driver's connection failed
            conn.close()


class SnapshotStatus:
    def __init__(self, issuer: str, generated_at: datetime, entries: dict[str, list]) -> None:
        self.issuer = issuer
        self.generated_at = generated_at
        self._entries = entries
        self.description = f"status snapshot of {generated_at.isoformat()}"

    def lookup(self, number: str) -> NumberStatus | None:
        versions = self._entries.get(number)
        if versions is None:
            return None
        return NumberStatus(number, tuple(
            VersionState(s, datetime.fromisoformat(at) if at else None, reason)
            for s, at, reason in versions))

    @classmethod
    def load(cls, path: Path, keys: KeySet) -> "SnapshotStatus":
        doc = read_json(path, "status snapshot", MAX_SNAPSHOT_BYTES, SnapshotError)
        try:
            return cls.from_document(doc, keys)
        except SnapshotError as e:
            raise SnapshotError(f"{path}: {e}") from None

    @classmethod
    def from_document(cls, doc: object, keys: KeySet) -> "SnapshotStatus":
        if not isinstance(doc, dict) or doc.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError(f"not a status snapshot (format {SNAPSHOT_FORMAT})")
        snap = doc.get("snapshot")
        try:
            kid = from_b64u(str(doc["kid"]))
            signature = from_b64u(str(doc["signature"]))
            generated_at = datetime.fromisoformat(snap["generated_at"])
            issuer, entries = str(snap["issuer"]), snap["certificates"]
        except (KeyError, TypeError, ValueError) as e:
            raise SnapshotError(f"snapshot is missing or has a malformed member ({e})") from None
        key = keys.get(kid)
        if key is None:
            raise SnapshotError(f"signed by key {doc['kid']}, which is not in the key set")
        if key.compromised_at is not None and key.compromised_at <= generated_at:
            raise SnapshotError(f"signed by key {key.kid} after it was compromised")
        try:
            Ed25519PublicKey.from_public_bytes(key.public_raw).verify(signature, canonical(snap))
        except InvalidSignature:
            raise SnapshotError("its signature does not verify: altered or not the bureau's") from None
        if not isinstance(entries, dict) or not all(_well_formed(v) for v in entries.values()):
            raise SnapshotError("malformed certificate entries")
        return cls(issuer, generated_at, entries)


def _well_formed(versions: object) -> bool:
    return isinstance(versions, list) and all(
        isinstance(v, list) and len(v) == 3 and v[0] in STATES for v in versions)
