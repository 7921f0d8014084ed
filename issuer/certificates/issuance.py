"""Batch issuance: every registered teacher's credit sheet becomes a signed
certificate, or stays as it is when nothing it says has changed.

One person, one number, one current certificate. Teachers are taken in
chunks, each chunk one transaction (certificates, superseded versions and
audit entries together), so a run killed at any point leaves whole chunks
behind and a second run finishes the job: the fingerprint of what a
certificate says tells it which teachers are already done.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from issuer.certificates import audit
from issuer.db import read_session, write_session
from issuer.errors import InputRefused
from issuer.ledger.credits.ledger import Holder, all_sheets, find_holder, sheet_for
from issuer.ledger.credits.sheet import CreditSheet
from issuer.ledger.importing.fields import birth_date
from issuer.models import Certificate, Registration, SigningKey, Teacher
from verifier.clock import as_utc, now_utc
from verifier.numbers import mask_id_number
from verifier.profiles import RulesProfile
from verifier.summary import Induction, SheetSummary, YearSummary
from verifier.token import Claims, end_of_day, to_base32, token_digest
from verifier.vocab import LEAF_BUCKETS

from .keystore import Keystore, Signer
from .qr import qr_version, verification_url

CHUNK = 500
CHECK_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z to misread
CHECK_CODE_LENGTH = 12
IN_PROGRESS, QUALIFIED, NOT_QUALIFIED = 0, 1, 2


@dataclass(frozen=True)
class IssueOptions:
    final: bool = False
    as_of: date | None = None
    school: str | None = None
    teacher: str | None = None  # one teacher (number or ID number); may follow a revocation


@dataclass
class IssueSummary:
    issued: int = 0
    reissued: int = 0
    unchanged: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (number, reason)

    @property
    def total(self) -> int:
        return self.issued + self.reissued + self.unchanged + len(self.refused)


@dataclass(frozen=True)
class Latest:
    """The newest version of a number that still counts (current or revoked)."""

    version: int
    state: str
    verdict: int
    fingerprint: str
    kid: str
    issued_at: datetime
    check_code: str


def new_check_code(length: int = CHECK_CODE_LENGTH) -> str:
    """Random characters of GB 32100's alphabet (also the sign-in codes')."""
    return "".join(secrets.choice(CHECK_CODE_ALPHABET) for _ in range(length))


def hundredths(d: Decimal) -> int:
    return int(d * 100)


def build_claims(
    profile: RulesProfile, holder: Holder, sheet: CreditSheet, *, final: bool, version: int, issued: datetime
) -> Claims:
    status = (QUALIFIED if sheet.qualified else NOT_QUALIFIED) if final else IN_PROGRESS
    valid_until = profile.extended_expiry if status == QUALIFIED else profile.cycle_end
    return Claims(
        issuer=profile.issuer_code,
        number=holder.number,
        expires=end_of_day(valid_until),
        issued=int(issued.timestamp()),
        version=version,
        holder=holder.name,
        id_masked=mask_id_number(holder.id_number),
        cycle=profile.cycle,
        school=holder.school_name,
        credits=tuple(hundredths(sheet.buckets[b]) for b in (*LEAF_BUCKETS, "total")),
        years=tuple(hundredths(y.amounts["total"]) for y in sheet.years),
        status=status,
    )


def sheet_summary(sheet: CreditSheet, profile: RulesProfile) -> SheetSummary:
    """What the register keeps beside the token (verifier/summary.py)."""
    ind = sheet.induction
    return SheetSummary(
        years=tuple(YearSummary.of(y.year, y.status, tuple(y.short), y.amounts) for y in sheet.years),
        minimums=dict(sheet.minimums),
        offset_used=sheet.offset_used,
        unmet=tuple(sheet.unmet),
        notes=tuple(sheet.notes),
        induction=Induction(ind.credits, profile.induction.credits, ind.due)
        if ind is not None and profile.induction is not None
        else None,
    )


class Issuer:
    def __init__(
        self, engine: Engine, profile: RulesProfile, keystore: Keystore, base_url: str, actor: str
    ) -> None:
        self.engine, self.profile, self.keystore = engine, profile, keystore
        self.base_url, self.actor = base_url, actor

    def count(self, options: IssueOptions) -> int:
        if options.teacher:
            return 1
        with read_session(self.engine) as session:
            q = (
                select(func.count())
                .select_from(Registration)
                .where(
                    Registration.cycle == self.profile.cycle,
                    Registration.bureau_code == self.profile.issuer_code,
                )
            )
            if options.school:
                q = q.join(Teacher, Teacher.id == Registration.teacher_id).where(
                    Teacher.school_code == options.school
                )
            return session.scalar(q) or 0

    def run(self, options: IssueOptions, progress: Callable[[int], None] = lambda n: None) -> IssueSummary:
        self.check_options(options)
        with read_session(self.engine) as session:
            signer = self.keystore.signer(session, self.profile.issuer_code)  # the passphrase, checked first
        summary = IssueSummary()
        for chunk in _chunks(self._sheets(options), CHUNK):
            with write_session(self.engine) as session:
                signer = self.issue_chunk(session, signer, chunk, options, summary)
            progress(len(chunk))
        return summary

    def _active_signer(self, session: Session, signer: Signer) -> Signer:
        """The signer of the key active now, read inside the chunk's
        transaction: a `keys rotate` while a batch runs waits for the chunk
        (PostgreSQL: the key's row is shared-locked; SQLite: one writer), and
        the chunks after it sign with the new key, inside its use window."""
        active = self.keystore.active(session, self.profile.issuer_code, lock=True, shared=True)
        if active is None:
            return self.keystore.signer(session, self.profile.issuer_code)  # says what to do
        return signer if active.kid == signer.kid_text else self.keystore.open(active.kid)

    def check_options(self, options: IssueOptions) -> None:
        if options.as_of is not None and options.as_of < self.profile.cycle_start:
            raise InputRefused(
                f"签发日期 --as-of {options.as_of} 早于本周期开始（{self.profile.cycle_start}）",
                f"--as-of {options.as_of} is before cycle {self.profile.cycle} began",
            )
        review_opens = self.profile.review_opens
        if options.final and (options.as_of or date.min) < review_opens:
            raise InputRefused(
                f"终审结论（--final）须在周期最后一年 12 月（{review_opens} 起）作出；"
                f"请用 --as-of 指明终审日期",
                f"--final needs --as-of on or after {review_opens} (the cycle's final review)",
            )

    def _sheets(self, options: IssueOptions) -> Iterator[tuple[Holder, CreditSheet]]:
        with read_session(self.engine) as session:
            if options.teacher:
                holder = find_holder(session, options.teacher, self.profile)
                yield holder, sheet_for(session, holder, self.profile, options.as_of)
            else:
                yield from all_sheets(session, self.profile, school=options.school, as_of=options.as_of)

    def issue_chunk(
        self,
        session: Session,
        signer: Signer,
        chunk: list[tuple[Holder, CreditSheet]],
        options: IssueOptions,
        summary: IssueSummary,
    ) -> Signer:
        """Issue one chunk in the caller's transaction; the signer it used."""
        signer = self._active_signer(session, signer)
        numbers = [h.number for h, _ in chunk]
        _lock_registrations(session, numbers)
        latest = _latest_versions(session, numbers)
        keys = _key_windows(session)
        now = now_utc().replace(microsecond=0)  # the token's iat has whole seconds
        inserts, superseded, events = [], [], []
        for holder, sheet in chunk:
            prev = latest.get(holder.number)
            final = options.final or (prev is not None and prev.verdict != IN_PROGRESS)
            claims = build_claims(
                self.profile,
                holder,
                sheet,
                final=final,
                version=(prev.version + 1) if prev else 1,
                issued=now,
            )
            refusal = self._refusal(prev, claims, options)
            if refusal:
                summary.refused.append((holder.number, refusal))
                continue
            if (
                prev
                and prev.state == "current"
                and prev.fingerprint == claims.fingerprint()
                and _sound(prev, keys)
            ):
                summary.unchanged += 1
                continue
            row = self._signed_row(signer, holder, claims, prev, now, sheet)
            if row is None:
                summary.refused.append(
                    (holder.number, "证书数据过大，二维码无法容纳（请检查姓名、学校名称长度）")
                )
                continue
            inserts.append(row)
            if prev and prev.state == "current":
                superseded.append(holder.number)
            action = "reissue" if prev else "issue"
            summary.reissued += bool(prev)
            summary.issued += not prev
            events.append(
                audit.Event(
                    action,
                    holder.number,
                    {
                        "version": claims.version,
                        "kid": signer.kid_text,
                        "fingerprint": row["fingerprint"],
                        "token_sha256": row["token_sha256"],
                        "verdict": claims.status,
                        "valid_until": claims.valid_until.isoformat(),
                    },
                )
            )
        if superseded:
            session.execute(
                update(Certificate)
                .where(Certificate.number.in_(superseded), Certificate.state == "current")
                .values(state="superseded", changed_at=now)
            )
        if inserts:
            session.execute(Certificate.__table__.insert(), inserts)
        audit.append(session, self.actor, events)
        return signer

    def _refusal(self, prev: Latest | None, claims: Claims, options: IssueOptions) -> str | None:
        if prev and prev.state == "revoked" and not options.teacher:
            return "证书已撤销：如需重新签发，请单独运行 ecert issue --teacher 编号"
        return None

    def _signed_row(
        self,
        signer: Signer,
        holder: Holder,
        claims: Claims,
        prev: Latest | None,
        now: datetime,
        sheet: CreditSheet,
    ) -> dict[str, object] | None:
        raw = signer.sign_token(claims)
        token = to_base32(raw)
        if qr_version(verification_url(self.base_url, token)) is None:
            return None
        return {
            "number": claims.number,
            "version": claims.version,
            "bureau_code": claims.issuer,
            "cycle": claims.cycle,
            "state": "current",
            "verdict": claims.status,
            "kid": signer.kid_text,
            "issued_at": now,
            "valid_until": claims.valid_until,
            "token": token,
            "token_sha256": token_digest(raw),
            "credits_total": claims.credits[-1],
            "fingerprint": claims.fingerprint(),
            "check_code": prev.check_code if prev else new_check_code(),
            "summary": sheet_summary(sheet, self.profile).to_json(),
            "holder_born": birth_date(holder.id_number),
        }


T = TypeVar("T")


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _lock_registrations(session: Session, numbers: list[str]) -> None:
    """Two issuers on PostgreSQL take turns per teacher (SQLite's write
    transaction already excludes the other)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Registration.id)
            .where(Registration.number.in_(numbers))
            .order_by(Registration.id)
            .with_for_update()
        )


def _latest_versions(session: Session, numbers: list[str]) -> dict[str, Latest]:
    c = Certificate
    rows = session.execute(
        select(c.number, c.version, c.state, c.verdict, c.fingerprint, c.kid, c.issued_at, c.check_code)
        .where(c.number.in_(numbers), c.state.in_(("current", "revoked")))
        .order_by(c.number, c.version)
    )
    out: dict[str, Latest] = {}
    for r in rows:  # ordered by version: the last one wins
        out[r.number] = Latest(
            r.version, r.state, r.verdict, r.fingerprint, r.kid, as_utc(r.issued_at), r.check_code
        )
    return out


def _key_windows(session: Session) -> dict[str, tuple[datetime, datetime | None, datetime | None]]:
    """kid → (not_before, not_after, compromised_at)."""
    rows = session.execute(
        select(SigningKey.kid, SigningKey.not_before, SigningKey.not_after, SigningKey.compromised_at)
    )
    return {kid: (as_utc(a), as_utc(b), as_utc(c)) for kid, a, b, c in rows}


def _sound(prev: Latest, keys: dict[str, tuple[datetime, datetime | None, datetime | None]]) -> bool:
    """Whether the current certificate's token still passes the key check:
    its key never marked compromised (every current certificate a compromised
    key signed is re-signed, also those signed before the moment of
    compromise: they still verify, the register binds each token, but none
    should go on resting on a key the bureau no longer trusts), and its iat
    inside the key's use window (a token a retired key signed after its
    rotation, as a batch running across a rotation once did, is repaired)."""
    window = keys.get(prev.kid)
    if window is None:
        return False
    not_before, not_after, compromised_at = window
    return (
        compromised_at is None
        and not_before <= prev.issued_at
        and (not_after is None or prev.issued_at <= not_after)
    )
