"""The certificate register: a number's versions, the current one, and
revocation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from issuer.certificates import audit
from issuer.errors import InputRefused, NotFound
from issuer.models import Certificate
from verifier.clock import as_utc, now_utc
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
