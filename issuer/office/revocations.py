"""Revoking a batch issued in error (批量撤销): the certificates an issue
job signed, or those of a school issued on one day, with one reason, after
a confirmation that names how many. The register does the revoking
(issuer/certificates/versions.py revoke_batch: one audit entry per
certificate); this chooses the batch within the account's scope and makes
sure what is revoked is what was confirmed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from issuer.certificates import versions as register
from issuer.errors import InputRefused, NotFound
from issuer.models import Certificate, School
from verifier.profiles import RulesProfile

from . import jobs as jobs_lib
from .queries import resolve_school
from .staff import Scope


@dataclass(frozen=True)
class Choice:
    """What a batch is chosen by: an issue job, or a school and an issue day."""

    job: int | None = None
    school: str | None = None
    day: date | None = None

    @property
    def detail(self) -> dict[str, object]:
        """As each revocation's audit entry records it."""
        if self.job is not None:
            return {"job": self.job}
        return {"school": self.school, "issued_on": self.day.isoformat() if self.day else None}


@dataclass(frozen=True)
class Batch:
    choice: Choice
    label: str  # what it is, in Chinese, for the pages
    certificates: list[Certificate]  # still current, in number order
    passed_over: int  # of the job's certificates, those since superseded or revoked


def choose(session: Session, profile: RulesProfile, scope: Scope, choice: Choice) -> Batch:
    """The certificates `choice` names that are current now. NotFound for a
    job or school outside the scope; InputRefused for a choice that names
    no batch (no job and no school, a job that is no ended issue job)."""
    if not scope.can("revoke"):
        raise NotFound("没有这个页面", f"role {scope.role} may not revoke")
    if choice.job is not None:
        signed = jobs_lib.signed_versions(session, scope, choice.job)
        certs = register.still_current(session, signed)
        return Batch(choice, f"任务 #{choice.job} 签发的证书", certs, len(signed) - len(certs))
    if not choice.school or choice.day is None:
        raise InputRefused("请选择签发任务，或选择学校和签发日期", "choose a job, or a school and a day")
    school = resolve_school(session, scope, choice.school)
    assert school is not None  # a school was named
    name = session.get(School, school)
    certs = register.issued_on(
        session, bureau=profile.issuer_code, cycle=profile.cycle, school=school, day=choice.day
    )
    label = (
        f"{name.name if name else school} {choice.day.year}年{choice.day.month}月{choice.day.day}日签发的证书"
    )
    return Batch(Choice(school=school, day=choice.day), label, certs, 0)


class Changed(Exception):
    """The batch is not what was confirmed: nothing was revoked."""

    def __init__(self, now: int) -> None:
        super().__init__(now)
        self.now = now


def revoke(
    session: Session, profile: RulesProfile, scope: Scope, choice: Choice, reason: str, confirmed: int
) -> list[register.Revoked]:
    """Revoke the batch `choice` names, in the caller's transaction, if it
    still holds exactly the `confirmed` number of certificates; else raise
    Changed (the caller rolls back) with how many it holds now."""
    batch = choose(session, profile, scope, choice)
    if len(batch.certificates) != confirmed:
        raise Changed(len(batch.certificates))
    done = register.revoke_batch(
        session, [(c.number, c.version) for c in batch.certificates], reason, scope.actor, choice.detail
    )
    if len(done) != confirmed:  # one was reissued or revoked between the look and the lock
        raise Changed(len(done))
    return done
