"""The certificate register: a number's versions, the current one, and
revocation, of one certificate or of a batch issued in error."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from issuer.certificates import audit
from issuer.errors import InputRefused, NotFound
from issuer.models import Certificate, Registration, Teacher
from verifier.clock import CHINA, as_utc, now_utc
from verifier.numbers import CertificateNumber, NumberFormatError
from verifier.qr import verification_url
from verifier.vocab import Verdict


def parse_number(text: str) -> str:
    try:
        return CertificateNumber.parse(text).compact
    except NumberFormatError as e:
        raise InputRefused(f"证书编号 {text} 无效：{e}", f"invalid certificate number: {e}") from None


def history(session: Session, number: str) -> list[Certificate]:
    rows = list(
        session.scalars(
            select(Certificate)
            .where(Certificate.number == parse_number(number))
            .order_by(Certificate.version)
        )
    )
    if not rows:
        raise NotFound(f"没有编号为 {number} 的证书", f"no certificate has number {number}")
    return rows


def latest(session: Session, number: str) -> Certificate:
    """The current version, or the newest one if none is current (revoked)."""
    rows = history(session, number)
    return next((r for r in rows if r.state == "current"), rows[-1])


def show_json(cert: Certificate, base_url: str) -> dict[str, object]:
    """docs/formats.md's `ecert show --json`, plus the verdict and check code."""
    return {
        "number": cert.number,
        "version": cert.version,
        "status": cert.state,
        "token": cert.token,
        "url": verification_url(base_url, cert.token),
        "valid_until": cert.valid_until.isoformat(),
        "verdict": Verdict(cert.verdict).code,
        "check_code": cert.check_code,
    }


def history_json(versions: Iterable[Certificate]) -> list[dict[str, object]]:
    """`ecert show --json --history`'s "history": every version, oldest first."""
    return [
        {
            "version": v.version,
            "state": v.state,
            "issued_at": v.issued_at.isoformat(),
            "changed_at": v.changed_at.isoformat() if v.changed_at else None,
            "reason": v.revoke_reason,
        }
        for v in versions
    ]


def signed_by(session: Session, kid: str, since: datetime) -> tuple[int, int]:
    """(current certificates signed by key `kid`, those of them issued at or after `since`)."""
    c = Certificate
    mine = select(func.count()).select_from(c).where(c.kid == kid, c.state == "current")
    # in UTC, as stored: SQLite compares the text, so a China-time moment would be 8 hours off
    return session.scalar(mine) or 0, session.scalar(mine.where(c.issued_at >= as_utc(since))) or 0


@dataclass(frozen=True)
class Revoked:
    number: str
    version: int


def revoke(session: Session, number: str, reason: str, actor: str) -> Revoked:
    reason = reason.strip()
    if not reason:
        raise InputRefused("撤销证书必须写明原因（--reason）", "a revocation needs a reason")
    compact = parse_number(number)
    cert = session.scalars(
        select(Certificate)
        .where(Certificate.number == compact, Certificate.state == "current")
        .with_for_update()
    ).first()
    if cert is None:
        latest(session, compact)  # NotFound if there is no certificate at all
        raise InputRefused(
            f"证书 {number} 没有现行版本（已撤销）", f"{number} has no current version to revoke"
        )
    cert.state, cert.changed_at, cert.revoke_reason = "revoked", now_utc(), reason
    session.flush()
    audit.append(
        session, actor, [audit.Event("revoke", compact, {"version": cert.version, "reason": reason})]
    )
    return Revoked(compact, cert.version)


# -- revoking a batch issued in error ------------------------------------------

REVOKE_CHUNK = 500  # numbers per IN list: far below any database's limit on parameters


def still_current(session: Session, versions: Iterable[tuple[str, int]]) -> list[Certificate]:
    """Of these (number, version) pairs, the certificates that are still the
    current version of their number, in number order. A version since
    superseded or revoked is not among them: a batch issued in error is
    revoked as far as it still stands, never the later version that
    replaced one of its certificates."""
    return _current(session, versions, lock=False)


def _current(session: Session, versions: Iterable[tuple[str, int]], *, lock: bool) -> list[Certificate]:
    wanted = {(n, v) for n, v in versions}
    numbers = sorted({n for n, _ in wanted})
    out: list[Certificate] = []
    for i in range(0, len(numbers), REVOKE_CHUNK):
        q = (
            select(Certificate)
            .where(Certificate.number.in_(numbers[i : i + REVOKE_CHUNK]), Certificate.state == "current")
            .order_by(Certificate.id)
        )
        out += [
            c for c in session.scalars(q.with_for_update() if lock else q) if (c.number, c.version) in wanted
        ]
    return sorted(out, key=lambda c: c.number)


def issued_on(session: Session, *, bureau: str, cycle: int, school: str, day: date) -> list[Certificate]:
    """The current certificates of a school's teachers (as the roster has
    them now) that were issued on `day`, China time, in number order."""
    start = as_utc(datetime.combine(day, time(0), CHINA))
    end = as_utc(datetime.combine(day + timedelta(days=1), time(0), CHINA))
    return list(
        session.scalars(
            select(Certificate)
            .join(Registration, Registration.number == Certificate.number)
            .join(Teacher, Teacher.id == Registration.teacher_id)
            .where(
                Certificate.state == "current",
                Certificate.bureau_code == bureau,
                Certificate.cycle == cycle,
                Teacher.school_code == school,
                # UTC, as stored (SQLite compares the text; see signed_by)
                Certificate.issued_at >= start,
                Certificate.issued_at < end,
            )
            .order_by(Certificate.number)
        )
    )


def revoke_batch(
    session: Session,
    versions: Iterable[tuple[str, int]],
    reason: str,
    actor: str,
    batch: Mapping[str, object] | None = None,
) -> list[Revoked]:
    """Revoke these (number, version) pairs with one reason, in the caller's
    transaction, all or none: each pair that is still current, locked first
    (a reissue running meanwhile waits, or has already superseded it and the
    pair is passed over). One audit entry per certificate, as `revoke`
    writes, with `batch` (what the batch was chosen by) in its detail.
    Returns what was revoked, in number order."""
    reason = reason.strip()
    if not reason:
        raise InputRefused("撤销证书必须写明原因", "a revocation needs a reason")
    rows = _current(session, versions, lock=True)
    now = now_utc()
    for cert in rows:
        cert.state, cert.changed_at, cert.revoke_reason = "revoked", now, reason
    session.flush()
    extra = {"batch": dict(batch)} if batch else {}
    audit.append(
        session,
        actor,
        [audit.Event("revoke", c.number, {"version": c.version, "reason": reason, **extra}) for c in rows],
    )
    return [Revoked(c.number, c.version) for c in rows]
