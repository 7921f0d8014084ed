"""Teachers' sign-in: one-time codes issued in batch, argon2 hashes, a
forced change at first sign-in. Wrong passwords are throttled per client
and account by the web (issuer/web/throttle.py), never by locking the
account: every refusal reads the same."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.certificates.issuance import new_check_code
from issuer.errors import EcertError
from issuer.ledger.credits.ledger import Holder, find_holder, holders_query
from issuer.models import Teacher, TeacherAccount
from issuer.office import passwords
from verifier.clock import now_utc
from verifier.numbers import half_width
from verifier.profiles import RulesProfile

from .passwords import SignInError

CODE_LENGTH = 10
REFUSED = SignInError(
    "证书编号/身份证号或密码不正确（连续输错多次后须稍候再试）", "wrong identifier or password"
)
__all__ = ["REFUSED", "SignInError", "account_key", "authenticate", "change_password", "issue_codes"]


@dataclass(frozen=True)
class IssuedCode:
    number: str
    name: str
    school: str
    code: str


def issue_codes(
    session: Session, profile: RulesProfile, *, school: str | None = None, reset: bool = False
) -> list[IssuedCode]:
    """A one-time code for every registered teacher in scope who has no
    account yet (all of them with reset)."""
    q = holders_query(profile).order_by(Teacher.id)
    if school:
        q = q.where(Teacher.school_code == school)
    have = set(session.scalars(select(TeacherAccount.teacher_id)))
    out = []
    for row in session.execute(q):
        h = Holder(*row)
        if h.teacher_id in have and not reset:
            continue
        code = new_check_code(CODE_LENGTH)
        account = session.get(TeacherAccount, h.teacher_id) or TeacherAccount(
            teacher_id=h.teacher_id, epoch=0
        )
        passwords.reset(account, code, must_change=True)
        account.changed_at = now_utc()
        session.add(account)
        out.append(IssuedCode(h.number, h.name, h.school_name, code))
    return out


def account_key(session: Session, ref: str, profile: RulesProfile) -> str:
    """What throttling counts a sign-in against: the teacher's certificate
    number, whichever of her numbers was typed (else what was typed)."""
    try:
        return find_holder(session, ref, profile).number
    except EcertError:
        return half_width(ref).replace("-", "").replace(" ", "").upper()[:40]


def authenticate(
    session: Session, ref: str, password: str, profile: RulesProfile
) -> tuple[Holder, TeacherAccount]:
    refused = REFUSED
    try:
        holder = find_holder(session, ref, profile)
    except EcertError:
        passwords.spend_a_check(password)
        raise refused from None
    account = session.get(TeacherAccount, holder.teacher_id)
    if account is None:
        passwords.spend_a_check(password)
        raise refused
    passwords.check(account, password, refused)
    return holder, account


def change_password(account: TeacherAccount, holder: Holder, old: str | None, new: str) -> None:
    passwords.change(account, old, new, forbidden=(holder.number, holder.id_number, holder.id_number[6:14]))
    account.changed_at = now_utc()
