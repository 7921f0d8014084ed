"""Passwords of every kind of account (teachers', staff's): argon2id hashes
and the rules for a new password.

Repeated failures do not lock an account: a lock anyone could set with the
number printed on a teacher's certificate would lock her out. Sign-in is
throttled per client address and account instead (issuer/web/throttle.py),
and the answer never says whether the account exists or is throttled.
"""

from __future__ import annotations

from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from issuer.errors import EcertError, InputRefused

# OWASP's minimum for argon2id (19 MiB, 2 passes): ~20 ms here, so a school's
# codes are made in seconds and a guess still costs an attacker real memory.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_PASSWORD = 10
MIN_STRENGTH = 2  # zxcvbn's score, 0..4: 2 is "somewhat guessable", about 10^8 guesses


class SignInError(EcertError):
    """Sign-in refused; the message never says which part was wrong."""


class WrongPassword(InputRefused):
    """The current password given to change it is wrong (counted as a failed sign-in)."""


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
    """Accept the password, or refuse with `refused` (which says nothing
    of why)."""
    try:
        HASHER.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise refused from None


def change(account: Lockable, old: str | None, new: str, forbidden: tuple[str, ...] = ()) -> None:
    """Replace the password; the epoch moves on, so other sessions end.
    `old` None: the caller has proven the current password otherwise (the
    one-time code, at the sign-in just before the forced change).
    `forbidden`: what the account is known by (username, certificate and ID
    numbers), which a new password may not contain."""
    if old is None:
        if _matches(account, new):
            raise InputRefused("新密码不能与原密码相同", "choose a different password")
    else:
        if not _matches(account, old):
            raise WrongPassword("原密码不正确", "the current password is wrong")
        if new == old:
            raise InputRefused("新密码不能与原密码相同", "choose a different password")
    acceptable(new, forbidden)
    reset(account, new, must_change=False)


def _matches(account: Lockable, password: str) -> bool:
    try:
        return HASHER.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def acceptable(new: str, forbidden: tuple[str, ...] = ()) -> None:
    """Refuse a new password that is short, one of the commonest, contains
    what the account is known by, or is otherwise easily guessed. The common
    passwords are zxcvbn's list (30,000, from real leaks), and its estimate
    of guesses, with the account's own names as known words."""
    if len(new) < MIN_PASSWORD:
        raise InputRefused(f"新密码至少 {MIN_PASSWORD} 个字符", f"at least {MIN_PASSWORD} characters")
    folded = new.casefold()
    if any(f and f.casefold() in folded for f in forbidden):
        raise InputRefused(
            "新密码不能包含证书编号、身份证号或用户名", "the password contains the account's own identifier"
        )
    from zxcvbn import zxcvbn  # loads its word lists: only when a password is chosen
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    if (
        folded in _common(FREQUENCY_LISTS)
        or zxcvbn(new, user_inputs=[f for f in forbidden if f])["score"] < MIN_STRENGTH
    ):
        raise InputRefused(
            "新密码过于常见或容易猜到，请换一个更长、更不规则的密码", "a common or easily guessed password"
        )


_COMMON: set[str] = set()


def _common(lists: dict) -> set[str]:
    if not _COMMON:
        _COMMON.update(p.casefold() for p in lists["passwords"])
    return _COMMON


def reset(account: Lockable, password: str, *, must_change: bool) -> None:
    account.password_hash, account.must_change = HASHER.hash(password), must_change
    end_sessions(account)
    account.failed, account.locked_until = 0, None


def end_sessions(account: Lockable) -> None:
    """Every session of the account ends: each carries the epoch it began
    in, and a page refuses a session whose epoch is not the account's."""
    account.epoch = (account.epoch or 0) + 1
