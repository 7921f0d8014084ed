"""The issuer's tables (SQLAlchemy 2.x typed models).

The schema itself is created by the Alembic migrations, never by
create_all: a change here needs a new revision in issuer/migrations.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from verifier import schema
from verifier.clock import now_utc


def utcnow() -> datetime:
    return now_utc()


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC on PostgreSQL; text on SQLite, whose NUMERIC is a float."""

    impl = String
    cache_ok = True

    def __init__(self, precision: int = 10, scale: int = 2) -> None:
        super().__init__()
        self.precision, self.scale = precision, scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | Decimal | None:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else value

    # value: the driver's str (SQLite) or Decimal (PostgreSQL)
    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class Base(DeclarativeBase):
    # One MetaData with the verifier's tables: keys and certificates are
    # defined there (the verifier reads them alone) and mapped here.
    metadata = schema.metadata
    # Every model maps one Table (none a join or a select), so its Core
    # insert() can be used for bulk rows: DeclarativeBase types it FromClause.
    __table__: ClassVar[Table]


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class School(Timestamps, Base):
    __tablename__ = "schools"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Teacher(Timestamps, Base):
    __tablename__ = "teachers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    gender: Mapped[str | None] = mapped_column(String(8))
    school_code: Mapped[str] = mapped_column(ForeignKey("schools.code"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    hired_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str | None] = mapped_column(String(50))


class NumberSequence(Base):
    """The last sequence number handed out per bureau, cycle and kind. Its
    row is locked by the transaction that registers teachers, so numbers are
    gap-free: a rolled-back import gives its numbers back."""

    __tablename__ = "number_sequences"
    bureau_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    cycle: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Registration(Base):
    """A teacher registered for a cycle, with her one certificate number."""

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("teacher_id", "cycle"),
        UniqueConstraint("bureau_code", "cycle", "kind", "seq"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"))
    bureau_code: Mapped[str] = mapped_column(String(6))
    cycle: Mapped[int] = mapped_column(Integer)
    kind: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Project(Timestamps, Base):
    __tablename__ = "projects"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="training")
    hours: Mapped[Decimal] = mapped_column(ExactDecimal(10, 2))
    year: Mapped[int] = mapped_column(Integer)
    approved: Mapped[bool] = mapped_column(Boolean)


class TrainingRecord(Timestamps, Base):
    """One teacher's result in one project. Bureau imports are recognised at
    once; a school's declaration waits for the bureau (status "declared")."""

    __tablename__ = "training_records"
    __table_args__ = (UniqueConstraint("teacher_id", "project_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"))
    project_code: Mapped[str] = mapped_column(ForeignKey("projects.code"), index=True)
    grade: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    completed_on: Mapped[date] = mapped_column(Date)
    # declared | recognised | rejected; indexed for the auditor's queue
    status: Mapped[str] = mapped_column(String(16), default="recognised", index=True)
    declared_by: Mapped[str | None] = mapped_column(String(32))
    recognised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reject_reason: Mapped[str | None] = mapped_column(Text)


class ImportBatch(Base):
    """What each import did, for the bureau's own records."""

    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# SigningKey and Certificate are mapped onto the verifier's Core tables
# (verifier/schema.py), which define the columns; the annotations below only
# type them (declarative with an imperative table: no mapped_column, so no
# second definition), and must name exactly the table's columns, with
# "| None" for the nullable ones.


class SigningKey(Base):
    """A bureau's Ed25519 key; its private half is a file in ECERT_KEYS_DIR."""

    __table__ = schema.signing_keys

    kid: Mapped[str]
    bureau_code: Mapped[str]
    public_x: Mapped[str]
    not_before: Mapped[datetime]
    not_after: Mapped[datetime | None]
    compromised_at: Mapped[datetime | None]
    compromise_note: Mapped[str | None]
    pdf_certificate: Mapped[str | None]  # PEM: the PDF-signing certificate (and its chain)


class Certificate(Base):
    """One version of a teacher's certificate in a cycle."""

    __table__ = schema.certificates

    id: Mapped[int]
    number: Mapped[str]
    version: Mapped[int]
    bureau_code: Mapped[str]
    cycle: Mapped[int]
    state: Mapped[str]  # current | superseded | revoked
    verdict: Mapped[int]
    kid: Mapped[str]
    issued_at: Mapped[datetime]
    valid_until: Mapped[date]
    token: Mapped[str]
    token_sha256: Mapped[str]
    credits_total: Mapped[int]
    fingerprint: Mapped[str]
    check_code: Mapped[str]
    summary: Mapped[str]  # JSON
    changed_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None]
    holder_born: Mapped[date | None]


class AuditEntry(Base):
    """Append-only, hash-chained log of issuance, reissue, revocation and key
    events. Triggers (migration 0002) refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    # Migration 0010: the office's filters (actor, action, number, dates).
    __table_args__ = (
        Index("ix_audit_log_actor", "actor", "seq"),
        Index("ix_audit_log_action", "action", "seq"),
        Index("ix_audit_log_subject", "subject", "seq"),
        Index("ix_audit_log_at", "at"),
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's last entry, one row. Locking it serialises appends."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class TeacherAccount(Base):
    """A teacher's sign-in: an argon2 hash of her password (first a one-time
    code the bureau hands out, changed at first sign-in)."""

    __tablename__ = "teacher_accounts"
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"), primary_key=True, autoincrement=False)
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change: Mapped[bool] = mapped_column(Boolean, default=True)
    epoch: Mapped[int] = mapped_column(Integer, default=1)  # bumped on change: older sessions end
    failed: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StaffAccount(Base):
    """A bureau administrator or auditor, or a school's registrar (whose
    school_code bounds everything she can see)."""

    __tablename__ = "staff_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))  # admin | auditor | registrar
    school_code: Mapped[str | None] = mapped_column(ForeignKey("schools.code"))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change: Mapped[bool] = mapped_column(Boolean, default=True)
    epoch: Mapped[int] = mapped_column(Integer, default=1)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """A bearer token for the bureau's other systems, acting as one staff
    account; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Job(Base):
    """A background batch (issue or render) and its progress, which the web
    page polls: it survives a reload and the web process."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # issue | render
    school_code: Mapped[str | None] = mapped_column(String(32))
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str] = mapped_column(Text, default="")  # JSON when done
    error: Mapped[str] = mapped_column(Text, default="")
    started_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LedgerVersion(Base):
    """One row: a counter that triggers (migration 0009) bump on every
    change to training_records, teachers, registrations, projects and
    schools, so a process that keeps credit sheets between requests knows
    exactly when they went stale (issuer/office/summaries.py)."""

    __tablename__ = "ledger_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)


class StoredObject(Base):
    """A file kept in the database (ECERT_STORAGE=database, issuer/storage.py):
    its key, the blob its chunks carry, size, time and tag (a PDF's render key)."""

    __tablename__ = "stored_objects"
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    blob: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    modified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    tag: Mapped[str | None] = mapped_column(String(100))


class StoredChunk(Base):
    """One piece (up to 256 KB) of a stored object's blob."""

    __tablename__ = "stored_chunks"
    blob: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
