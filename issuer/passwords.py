"""Passwords of every kind of account (teachers', staff's): argon2id hashes,
lock-out after repeated failures, and the rules for a new password."""
from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from verifier.clock import as_utc, now_utc

from .errors import EcertError, InputRefused

# OWASP's minimum for argon2id (19 MiB, 2 passes): ~20 ms here, so a school's
# codes are made in seconds and a guess still costs an attacker real memory.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10


class SignInError(EcertError):
    """Sign-in refused; the message never says which part was wrong."""


class Lockable(Protocol):
    password_hash: str
    failed: int
    locked_until: object
    must_change: bool
    epoch: int


def spend_a_check(password: str) -> None:
    """As long as a real check: no probing for accounts by timing."""
    HASHER.hash(password or "x")


def check(account: Lockable, password: str, refused: SignInError) -> None:
    """Accept the password or count a failure (the caller commits either
    way); five failures lock the account for 15 minutes."""
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


def change(account: Lockable, old: str, new: str, forbidden: tuple[str, ...] = ()) -> None:
    """Replace the password; the epoch moves on, so other sessions end."""
    try:
        HASHER.verify(account.password_hash, old)
    except (VerificationError, InvalidHashError):
        raise InputRefused("原密码不正确", "the current password is wrong") from None
    if len(new) < MIN_PASSWORD:
        raise InputRefused(f"新密码至少 {MIN_PASSWORD} 个字符", f"at least {MIN_PASSWORD} characters")
    if new == old or new.upper() in {f.upper() for f in forbidden}:
        raise InputRefused("新密码不能与原密码或账号信息相同", "choose a different password")
    reset(account, new, must_change=False)


def reset(account: Lockable, password: str, *, must_change: bool) -> None:
    account.password_hash, account.must_change = HASHER.hash(password), must_change
    account.epoch = (account.epoch or 0) + 1
    account.failed, account.locked_until = 0, None
