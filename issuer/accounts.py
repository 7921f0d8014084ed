"""Teachers' sign-in: one-time codes issued in batch, argon2 hashes,
lock-out after repeated failures, a forced change at first sign-in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from verifier.clock import as_utc, now_utc
from verifier.profiles import RulesProfile

from .credits.ledger import Holder, holders_query, find_holder
from .errors import EcertError, InputRefused
from .issuance import new_check_code
from .models import Teacher, TeacherAccount

# OWASP's minimum for argon2id (19 MiB, 2 passes): ~20 ms here, so a school's
# codes are made in seconds and a guess still costs an attacker real memory.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
CODE_LENGTH = 10
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10


class SignInError(EcertError):
    """Sign-in refused; the message never says which part was wrong."""


@dataclass(frozen=True)
class IssuedCode:
    number: str
    name: str
    school: str
    code: str


def issue_codes(session: Session, profile: RulesProfile, *, school: str | None = None,
                reset: bool = False) -> list[IssuedCode]:
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
        account = session.get(TeacherAccount, h.teacher_id) or TeacherAccount(teacher_id=h.teacher_id, epoch=0)
        account.password_hash, account.must_change = HASHER.hash(code), True
        account.epoch, account.failed, account.locked_until = account.epoch + 1, 0, None
        account.changed_at = now_utc()
        session.add(account)
        out.append(IssuedCode(h.number, h.name, h.school_name, code))
    return out


def authenticate(session: Session, ref: str, password: str, profile: RulesProfile) -> tuple[Holder, TeacherAccount]:
    refused = SignInError("证书编号/身份证号或密码不正确", "wrong identifier or password")
    try:
        holder = find_holder(session, ref, profile)
    except EcertError:
        HASHER.hash(password or "x")  # the same time as a real check: no account probing by timing
        raise refused from None
    account = session.get(TeacherAccount, holder.teacher_id, with_for_update=True)
    if account is None:
        HASHER.hash(password or "x")
        raise refused
    now = now_utc()
    if account.locked_until and as_utc(account.locked_until) > now:
        raise SignInError(f"登录失败次数过多，请 {LOCK_MINUTES} 分钟后再试", "account temporarily locked")
    try:
        HASHER.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        account.failed += 1
        if account.failed >= MAX_FAILURES:
            account.failed, account.locked_until = 0, now + timedelta(minutes=LOCK_MINUTES)
        raise refused from None
    account.failed, account.locked_until = 0, None
    return holder, account


def change_password(account: TeacherAccount, holder: Holder, old: str, new: str) -> None:
    try:
        HASHER.verify(account.password_hash, old)
    except (VerificationError, InvalidHashError):
        raise InputRefused("原密码不正确", "the current password is wrong") from None
    if len(new) < MIN_PASSWORD:
        raise InputRefused(f"新密码至少 {MIN_PASSWORD} 个字符", f"at least {MIN_PASSWORD} characters")
    if new == old or new.upper() in (holder.number, holder.id_number):
        raise InputRefused("新密码不能与原密码、证书编号或身份证号相同", "choose a different password")
    account.password_hash, account.must_change = HASHER.hash(new), False
    account.epoch += 1
    account.changed_at = now_utc()
