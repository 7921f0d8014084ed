"""Where a certificate stands in the register: each version of a number,
its state (current, superseded or revoked), and the SHA-256 digest of the
token the register issued for it, which binds a token to the register: a
token signed with a leaked key has the right number and version but not
the right digest (docs/formats.md, "Verification result").

Online, the verifier reads the register's table; offline, a status snapshot
that `ecert status export` writes and signs with the bureau's current key:

    {"format": "teacher-ecert-status/2", "kid": "<base64url>",
     "signature": "<base64url Ed25519 over the canonical JSON of snapshot>",
     "snapshot": {"issuer": "654004", "generated_at": "<ISO 8601>",
                  "certificates": {"<number>": [VERSION, ...]}}}

    VERSION = [state, changed_at, reason, sha256, issued_at, verdict, valid_until, total, summary]

Each number lists its versions in order (version 1 first): state is
current, superseded or revoked; changed_at (ISO 8601) and reason are null
unless it was superseded or revoked; sha256 is the hex SHA-256 of the
token's bytes; issued_at is ISO 8601; verdict the token's status claim
(0, 1, 2); valid_until YYYY-MM-DD; total the token's total in hundredths;
summary the compact form of the register's sheet summary (verifier/summary.py:
each year's status, a late joiner's minimums, what was unmet), or null.
Canonical JSON: sorted keys, no spaces, UTF-8. Format 1 carried no digests
and is refused: it cannot bind a token.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from array import array
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, bindparam, case, select
from sqlalchemy.exc import DBAPIError

from verifier import schema
from verifier.clock import CHINA, as_utc
from verifier.files import read_json
from verifier.keyset import KeySet, PublicKey
from verifier.summary import SheetSummary, SummaryError
from verifier.token import from_b64u
from verifier.vocab import CertState

SNAPSHOT_FORMAT = "teacher-ecert-status/2"
OLD_FORMATS = ("teacher-ecert-status/1",)
STATES = tuple(CertState)
MAX_SNAPSHOT_BYTES = 400_000_000
_HEX64 = re.compile(r"[0-9a-f]{64}")


class SnapshotError(ValueError):
    """A status snapshot that cannot be trusted or read."""


class RegisterUnavailable(RuntimeError):
    """The register's database cannot be reached: no verdict can be given
    (a page says so with 503, never "invalid")."""


@dataclass(frozen=True)
class VersionState:
    state: str
    changed_at: datetime | None = None
    reason: str | None = None
    digest: str = ""  # hex SHA-256 of the token's bytes as issued
    issued_at: datetime | None = None
    verdict: int = 0  # the token's status claim: 0 in progress, 1 qualified, 2 not qualified
    valid_until: date | None = None
    total: int = 0  # the token's total, in hundredths

    def issued(self, digest: str) -> bool:
        """True when `digest` is the one of the token issued for this version."""
        return bool(self.digest) and hmac.compare_digest(self.digest, digest)


@dataclass(frozen=True)
class Details:
    """What the register says of one version beyond its state: online, the
    sheet summary stored at issue (JSON text) and the holder's birth date;
    offline, the snapshot's compact summary (verifier/summary.py)."""

    summary: str | None = None
    holder_born: date | None = None
    # as the snapshot's JSON has it: SheetSummary.from_compact checks its shape
    compact: dict[str, Any] | None = None

    def sheet(self, first_year: int) -> SheetSummary | None:
        """The summary, or None when there is none or it cannot be read (the
        token's own totals are read then, as without a register)."""
        try:
            if self.summary:
                return SheetSummary.from_json(self.summary)
            if self.compact is not None:
                return SheetSummary.from_compact(self.compact, first_year)
        except SummaryError:
            return None
        return None


@dataclass(frozen=True)
class NumberStatus:
    number: str
    versions: tuple[VersionState, ...]  # version 1 first
    details: Details | None = None  # of the version asked about, when the source has them

    @property
    def latest(self) -> int:
        return len(self.versions)

    def of(self, version: int) -> VersionState | None:
        return self.versions[version - 1] if 1 <= version <= len(self.versions) else None

    @property
    def current(self) -> int | None:
        """The current version's number, None when there is none (revoked)."""
        return next((i + 1 for i, v in enumerate(self.versions) if v.state == "current"), None)


class StatusSource(Protocol):
    description: str

    def lookup(self, number: str, version: int = 0) -> NumberStatus | None:
        """Every version of `number`, and the Details of `version` if the
        source keeps them."""
        ...


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
    (about 45 µs of a verification's 300, benchmarks/bench_verifier.py).
    The asked version's summary and birth date come in the same statement."""

    description = "online register"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        t = schema.certificates
        asked = t.c.version == bindparam("version")
        columns = (
            t.c.version,
            t.c.state,
            t.c.changed_at,
            t.c.revoke_reason,
            t.c.token_sha256,
            t.c.issued_at,
            t.c.verdict,
            t.c.valid_until,
            t.c.credits_total,
            case((asked, t.c.summary)),
            case((asked, t.c.holder_born)),
        )
        compiled = (
            select(*columns)
            .where(t.c.number == bindparam("number"))
            .order_by(t.c.version)
            .compile(dialect=engine.dialect)
        )
        self._sql = str(compiled)
        self._order = compiled.positiontup if compiled.positional else None
        dialect = engine.dialect
        types = (*(c.type for c in columns[:-2]), t.c.summary.type, t.c.holder_born.type)
        self._convert = tuple(ty.dialect_impl(dialect).result_processor(dialect, None) for ty in types)
        self._driver_error: type[Exception] = dialect.loaded_dbapi.Error

    def lookup(self, number: str, version: int = 0) -> NumberStatus | None:
        try:
            rows = self._rows(number, version)
        except (DBAPIError, self._driver_error):
            self.close(broken=True)  # a dropped connection: one retry on a fresh one
            try:
                rows = self._rows(number, version)
            except (DBAPIError, self._driver_error) as e:
                self.close(broken=True)
                raise RegisterUnavailable(f"the register cannot be read: {type(e).__name__}") from e
        if not rows:
            return None
        details: Details | None = None
        versions: list[VersionState] = []
        for v, state, changed, reason, digest, issued, verdict, until, total, summary, born in rows:
            versions.append(
                VersionState(state, as_utc(changed), reason, digest, as_utc(issued), verdict, until, total)
            )
            if v == version:
                details = Details(summary, born)
        return NumberStatus(number, tuple(versions), details)

    def _rows(self, number: str, version: int) -> list[tuple[Any, ...]]:
        """The rows as the driver gives them, each column converted (values of
        the columns' types, which the statement's row does not carry)."""
        dbapi = self._connection().connection.dbapi_connection
        assert dbapi is not None  # None only once invalidated, and _connection replaces such a one
        cursor = dbapi.cursor()
        # the column is a 4-byte integer on PostgreSQL: a version past it is none of the register's
        params = {"number": number, "version": version if 0 < version < 2**31 else 0}
        try:
            cursor.execute(self._sql, tuple(params[k] for k in self._order) if self._order else params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [tuple(f(v) if f else v for f, v in zip(self._convert, row, strict=True)) for row in rows]

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._local.conn = conn
        return conn

    def close(self, broken: bool = False) -> None:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            if broken:
                conn.invalidate()  # not back to the pool: the driver's connection failed
            conn.close()


class SnapshotStatus:
    """A bureau's register as its signed snapshot froze it. It answers for
    that bureau's numbers only, and says from when (`note`: a page shows
    it beside the verdict, since an old snapshot misses later changes)."""

    def __init__(self, issuer: str, generated_at: datetime, entries: dict[str, list[list[Any]]]) -> None:
        """`entries`: the snapshot's certificates, as its JSON has them (each
        version a list of the module docstring's VERSION, checked by from_document)."""
        self.issuer = issuer
        self.generated_at = generated_at
        self._entries = _Entries(entries)
        self.description = f"status snapshot of bureau {issuer}, {generated_at.isoformat()}"
        self.note = f"离线查验：登记状态依据 {generated_at.astimezone(CHINA):%Y-%m-%d %H:%M} 的状态快照，其后的变更不在其中"

    def lookup(self, number: str, version: int = 0) -> NumberStatus | None:
        versions = self._entries.lookup(number) if number.startswith(self.issuer) else None
        if versions is None:
            return None
        asked = versions[version - 1] if 1 <= version <= len(versions) else None
        return NumberStatus(
            number,
            tuple(_version_state(v) for v in versions),
            Details(compact=asked[8]) if asked is not None and asked[8] is not None else None,
        )

    @classmethod
    def load(cls, path: Path, keys: KeySet) -> SnapshotStatus:
        doc = read_json(path, "status snapshot", MAX_SNAPSHOT_BYTES, SnapshotError)
        try:
            return cls.from_document(doc, keys)
        except SnapshotError as e:
            raise SnapshotError(f"{path}: {e}") from None

    @classmethod
    def from_document(cls, doc: object, keys: KeySet) -> SnapshotStatus:
        if isinstance(doc, dict) and doc.get("format") in OLD_FORMATS:
            raise SnapshotError(
                f"an older snapshot ({doc['format']}) without the tokens' digests, which "
                "cannot bind a token to the register: export a new one (ecert status export)"
            )
        if not isinstance(doc, dict) or doc.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError(f"not a status snapshot (format {SNAPSHOT_FORMAT})")
        snap: Any = doc.get("snapshot")  # the JSON as sent: a wrong shape fails below as malformed
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
        _trusted_signer(key, issuer, generated_at)
        try:
            Ed25519PublicKey.from_public_bytes(key.public_raw).verify(signature, canonical(snap))
        except InvalidSignature:
            raise SnapshotError("its signature does not verify: altered or not the bureau's") from None
        except UnicodeEncodeError:  # text JSON can spell and UTF-8 cannot carry (a lone surrogate)
            raise SnapshotError("it holds text that is not valid Unicode: altered") from None
        if not isinstance(entries, dict) or not all(_well_formed(v) for v in entries.values()):
            raise SnapshotError("malformed certificate entries")
        try:
            return cls(issuer, generated_at, entries)
        except TypeError as e:  # orjson's refusal: an integer beyond 64 bits, nesting past its limit
            raise SnapshotError(f"malformed certificate entries ({e})") from None


class _Entries:
    """A snapshot's certificates, held compactly: every number's versions as
    their JSON, one after another in one buffer, found by a binary search
    over the numbers, side by side in another. As the Python lists json.loads
    makes, a snapshot took about 2.5 KB a number in every verifier process
    (51 MB for 20,000 numbers, some 2.5 GB at a million); held so, about
    the size of its file, and the lists are freed whole once read. A number
    that is not 16 ASCII characters (never one of ours) is kept aside."""

    WIDTH = 16

    def __init__(self, entries: Mapping[str, list[list[Any]]]) -> None:
        regular = sorted(filter(self._regular, entries))
        self._numbers = "".join(regular).encode("ascii")
        self._json = bytearray()
        self._ends = array("Q")
        for number in regular:
            self._json += orjson.dumps(entries[number])
            self._ends.append(len(self._json))
        self._aside = {n: orjson.dumps(v) for n, v in entries.items() if not self._regular(n)}

    def __len__(self) -> int:
        return len(self._ends) + len(self._aside)

    def _regular(self, number: str) -> bool:
        return len(number) == self.WIDTH and number.isascii()

    def lookup(self, number: str) -> list[list[Any]] | None:
        held: bytes | bytearray | None
        if self._regular(number):
            w, n, key = self.WIDTH, len(self._ends), number.encode("ascii")
            at = bisect_left(range(n), key, key=lambda i: self._numbers[i * w : i * w + w])
            found = at < n and self._numbers[at * w : at * w + w] == key
            held = self._json[self._ends[at - 1] if at else 0 : self._ends[at]] if found else None
        else:
            held = self._aside.get(number)
        return None if held is None else orjson.loads(held)


def _trusted_signer(key: PublicKey, issuer: str, generated_at: datetime) -> None:
    """A snapshot is the bureau's only if signed by one of its keys, in that
    key's use window, by a key never marked compromised: whoever holds a
    leaked key can date a snapshot as he likes, so no date of his clears it."""
    if generated_at.tzinfo is None:
        raise SnapshotError("generated_at has no time zone")
    if key.issuer != issuer:
        raise SnapshotError(f"a snapshot of bureau {issuer} signed by key {key.kid} of bureau {key.issuer}")
    if key.compromised_at is not None:
        raise SnapshotError(f"signed by key {key.kid}, which is marked compromised: export a new snapshot")
    if generated_at < key.not_before or (key.not_after is not None and generated_at > key.not_after):
        raise SnapshotError(
            f"dated {generated_at.isoformat()}, outside the use window of key {key.kid} that signed it"
        )


def snapshot_entry(v: VersionState, summary: Mapping[str, object] | None) -> list[object]:
    """One version as the snapshot lists it (the module's docstring)."""
    return [
        v.state,
        v.changed_at.isoformat() if v.changed_at else None,
        v.reason,
        v.digest,
        v.issued_at.isoformat() if v.issued_at else None,
        v.verdict,
        v.valid_until.isoformat() if v.valid_until else None,
        v.total,
        summary,
    ]


def _version_state(v: list[Any]) -> VersionState:
    state, changed, reason, digest, issued, verdict, until, total, _summary = v
    return VersionState(
        state,
        datetime.fromisoformat(changed) if changed else None,
        reason,
        digest,
        datetime.fromisoformat(issued),
        verdict,
        date.fromisoformat(until),
        total,
    )


def _well_formed(versions: object) -> bool:
    return isinstance(versions, list) and all(_well_formed_version(v) for v in versions)


def _well_formed_version(v: object) -> bool:
    if not (isinstance(v, list) and len(v) == 9 and v[0] in STATES):
        return False
    _, changed, reason, digest, issued, verdict, until, total, summary = v
    try:
        return (
            isinstance(digest, str)
            and bool(_HEX64.fullmatch(digest))
            and (changed is None or isinstance(datetime.fromisoformat(changed), datetime))
            and (reason is None or isinstance(reason, str))
            and isinstance(datetime.fromisoformat(issued), datetime)
            and verdict in (0, 1, 2)
            and isinstance(date.fromisoformat(until), date)
            and type(total) is int
            and total >= 0
            and (summary is None or isinstance(summary, dict))
        )
    except (TypeError, ValueError):
        return False
