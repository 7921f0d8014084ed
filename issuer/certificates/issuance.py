"""Batch issuance: every registered teacher's credit sheet becomes a signed
certificate, or stays as it is when nothing it says has changed.

One person, one number, one current certificate. Teachers are taken in
chunks, each chunk one transaction (certificates, superseded versions and
audit entries together), so a run killed at any point leaves whole chunks
behind and a second run finishes the job: the fingerprint of what a
certificate says tells it which teachers are already done.

What a run does for each teacher (issue, reissue, leave unchanged, refuse,
and why) is decided in one place, Issuer.decide; a run acts on it, and a
preview (`ecert issue --dry-run`) reports it without the signing key and
without writing anything.
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
from verifier.qr import verification_url
from verifier.summary import Induction, SheetSummary, YearSummary
from verifier.token import Claims, end_of_day, to_base32, token_digest
from verifier.vocab import LEAF_BUCKETS

from .keystore import Keystore, Signer, open_document_key
from .qr import qr_version

CHUNK = 500
ISSUED, REISSUED, UNCHANGED, REFUSED = "issued", "reissued", "unchanged", "refused"
ACTIONS = (ISSUED, REISSUED, UNCHANGED, REFUSED)
# Why a teacher gets what she gets: (Chinese, English). The refusals' Chinese
# is what IssueSummary.refused and the office's job page show.
REVOKED = (
    "证书已撤销：如需重新签发，请单独运行 ecert issue --teacher 编号",
    "revoked; reissue it alone with ecert issue --teacher NUMBER",
)
TOO_LARGE = (
    "证书数据过大，二维码无法容纳（请检查姓名、学校名称长度）",
    "too much data for the QR code; check the lengths of the name and the school's name",
)
FIRST = ("首次签发", "first certificate")
CHANGED = ("证书内容有变化（学分、结论或持证人信息）", "what the certificate says has changed")
AFTER_REVOCATION = ("撤销后单独重新签发", "reissued alone after its revocation")
RESIGNED = (
    "签名密钥已标记泄露，或签发时间不在密钥使用期内：重新签名",
    "its key is marked compromised, or it was signed outside the key's window: signed again",
)
SAME = ("内容未变化", "what it says has not changed")
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
class Planned:
    """One teacher in a preview: what a run would do, and why."""

    number: str
    name: str
    school: str  # the school's code
    school_name: str
    action: str  # one of ACTIONS
    reason: str  # Chinese
    detail: str  # English

    def to_json(self) -> dict[str, str]:
        return {
            "number": self.number,
            "name": self.name,
            "school": self.school,
            "action": self.action,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass
class Preview:
    """What a run with the same options would do now (Issuer.preview)."""

    teachers: list[Planned] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ACTIONS, 0)
        for t in self.teachers:
            counts[t.action] += 1
        return counts

    def of(self, action: str) -> list[Planned]:
        return [t for t in self.teachers if t.action == action]

    def to_json(self) -> dict[str, object]:
        return {"counts": self.counts, "teachers": [t.to_json() for t in self.teachers]}


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


@dataclass(frozen=True)
class Decision:
    """What a run does for one teacher: `row` is the signed certificate to
    store (issued, reissued), None otherwise."""

    holder: Holder
    action: str
    why: tuple[str, str]  # (Chinese, English)
    claims: Claims
    prev: Latest | None
    row: dict[str, object] | None = None


def new_check_code(length: int = CHECK_CODE_LENGTH) -> str:
    """Random characters of GB 32100's alphabet (also the sign-in codes')."""
    n, base = secrets.randbelow(len(CHECK_CODE_ALPHABET) ** length), len(CHECK_CODE_ALPHABET)
    out = []
    for _ in range(length):  # one draw, read digit by digit: each uniform, as `choice` made them
        n, d = divmod(n, base)
        out.append(CHECK_CODE_ALPHABET[d])
    return "".join(out)


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

    def open_keys(self) -> Signer:
        """The active signing key, opened, and its PDF-signing key opened too
        (a key made before PDFs were signed has none, and issuing needs none):
        a missing or wrong passphrase, or a key file gone, stops a run before
        any credit sheet is computed."""
        bureau = self.profile.issuer_code
        with read_session(self.engine) as session:
            signer = self.keystore.signer(session, bureau)
            row = self.keystore.active(session, bureau)
        if row is not None and row.pdf_certificate:
            open_document_key(row.kid, self.keystore.document_key_path(row.kid))
        return signer

    def run(
        self,
        options: IssueOptions,
        progress: Callable[[int], None] = lambda n: None,
        signer: Signer | None = None,
    ) -> IssueSummary:
        """Issue; `signer`: the one open_keys gave (else the keys are opened first)."""
        self.check_options(options)
        if signer is None:
            signer = self.open_keys()
        summary = IssueSummary()
        for chunk in _chunks(self._sheets(options), CHUNK):
            with write_session(self.engine) as session:
                signer = self.issue_chunk(session, signer, chunk, options, summary)
            progress(len(chunk))
        return summary

    def preview(self, options: IssueOptions, progress: Callable[[int], None] = lambda n: None) -> Preview:
        """What run(options) would do now, teacher by teacher, decided by the
        code a run decides by (decide), in read-only sessions: no signing key
        (the tokens a run would sign, whose size decides whether they fit the
        QR code, are signed by a throwaway key and dropped), nothing written
        to the register, the audit log or the keys."""
        self.check_options(options)
        signer = Signer.throwaway()
        now = now_utc().replace(microsecond=0)
        preview = Preview()
        for chunk in _chunks(self._sheets(options), CHUNK):
            with read_session(self.engine) as session:
                decisions = self.decide(session, signer, chunk, options, now)
            preview.teachers += (
                Planned(
                    d.holder.number,
                    d.holder.name,
                    d.holder.school_code,
                    d.holder.school_name,
                    d.action,
                    *d.why,
                )
                for d in decisions
            )
            progress(len(chunk))
        return preview

    def active_signer(self, session: Session, signer: Signer) -> Signer:
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
        signer = self.active_signer(session, signer)
        lock_registrations(session, [h.number for h, _ in chunk])
        now = now_utc().replace(microsecond=0)  # the token's iat has whole seconds
        self.store(session, self.decide(session, signer, chunk, options, now), now, summary)
        return signer

    def store(
        self, session: Session, decisions: list[Decision], now: datetime, summary: IssueSummary
    ) -> None:
        """Write what `decide` decided, in the caller's transaction: the new
        certificates, the versions they supersede and one audit entry each."""
        inserts, superseded, events = [], [], []
        for d in decisions:
            number = d.holder.number
            if d.action == REFUSED:
                summary.refused.append((number, d.why[0]))
                continue
            if d.action == UNCHANGED:
                summary.unchanged += 1
                continue
            assert d.row is not None  # issued and reissued carry their signed row
            inserts.append(d.row)
            if d.prev and d.prev.state == "current":
                superseded.append(number)
            summary.reissued += d.action == REISSUED
            summary.issued += d.action == ISSUED
            events.append(
                audit.Event(
                    "reissue" if d.action == REISSUED else "issue",
                    number,
                    {
                        "version": d.claims.version,
                        "kid": d.row["kid"],
                        "fingerprint": d.row["fingerprint"],
                        "token_sha256": d.row["token_sha256"],
                        "verdict": d.claims.status,
                        "valid_until": d.claims.valid_until.isoformat(),
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

    def decide(
        self,
        session: Session,
        signer: Signer,
        chunk: list[tuple[Holder, CreditSheet]],
        options: IssueOptions,
        now: datetime,
    ) -> list[Decision]:
        """What a run does for each teacher of the chunk, and why, with the
        certificate row `signer` signed for those issued or reissued. Reads
        the register only: a run writes what it decides, a preview does not."""
        latest = latest_versions(session, [h.number for h, _ in chunk])
        keys = key_windows(session)
        out = []
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
                out.append(Decision(holder, REFUSED, refusal, claims, prev))
                continue
            if prev is None:
                why = FIRST
            elif prev.state == "revoked":
                why = AFTER_REVOCATION
            elif prev.fingerprint != claims.fingerprint():
                why = CHANGED
            elif _sound(prev, keys):
                out.append(Decision(holder, UNCHANGED, SAME, claims, prev))
                continue
            else:
                why = RESIGNED
            row = self._signed_row(signer, holder, claims, prev, now, sheet)
            if row is None:
                out.append(Decision(holder, REFUSED, TOO_LARGE, claims, prev))
                continue
            out.append(Decision(holder, REISSUED if prev else ISSUED, why, claims, prev, row))
        return out

    def _refusal(self, prev: Latest | None, claims: Claims, options: IssueOptions) -> tuple[str, str] | None:
        if prev and prev.state == "revoked" and not options.teacher:
            return REVOKED
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


def lock_registrations(session: Session, numbers: list[str]) -> None:
    """Two issuers on PostgreSQL take turns per teacher (SQLite's write
    transaction already excludes the other)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Registration.id)
            .where(Registration.number.in_(numbers))
            .order_by(Registration.id)
            .with_for_update()
        )


def latest_versions(session: Session, numbers: list[str]) -> dict[str, Latest]:
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


def key_windows(session: Session) -> dict[str, tuple[datetime, datetime | None, datetime | None]]:
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
