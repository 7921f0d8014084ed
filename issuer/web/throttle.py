"""Wrong passwords, throttled per client address and account.

An account is never locked for everyone: anyone could lock a teacher out
with the number printed on her certificate. Instead each client may try an
account five times in fifteen minutes (sign-in, or the current password
when changing it); then that client, and only it, is refused for that
account until the window passes, with the same answer a wrong password
gets. The counts live in the rate limiter's storage (ECERT_RATELIMIT_STORAGE:
memory, or Redis so that every worker and server shares them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from flask import request
from limits import parse

from issuer.office.passwords import SignInError, WrongPassword, spend_a_check
from verifier.web import limiter

from ..errors import EcertError

T = TypeVar("T")

FAILURES = parse("5 per 15 minutes")


def _ids(kind: str, account: str) -> tuple[str, ...]:
    return ("wrong-password", kind, account.casefold(), request.remote_addr or "?")


def blocked(kind: str, account: str) -> bool:
    """Whether this client has used up its tries at this account."""
    if not (limiter.enabled and limiter.initialized):
        return False
    return not limiter.limiter.test(FAILURES, *_ids(kind, account))


def failed(kind: str, account: str) -> None:
    """Count one wrong password of this client at this account."""
    if limiter.enabled and limiter.initialized:
        limiter.limiter.hit(FAILURES, *_ids(kind, account))


def sign_in(kind: str, account: str, password: str, check: Callable[[], T], refused: SignInError) -> T:
    """`check()` signs in (or raises SignInError), unless this client has
    used up its tries at this account: then `refused`, after as long as a
    real check, so that a throttled sign-in reads and takes as a wrong one."""
    if blocked(kind, account):
        spend_a_check(password)
        raise refused
    try:
        return check()
    except SignInError:
        failed(kind, account)
        raise


@contextmanager
def changing_password(kind: str, account: str) -> Iterator[None]:
    """Around a password change: a wrong current password counts as a wrong
    sign-in does, and past the tries the change is refused."""
    if blocked(kind, account):
        raise EcertError("原密码连续输错次数过多，请稍候再试", "too many wrong current passwords")
    try:
        yield
    except WrongPassword:
        failed(kind, account)
        raise
