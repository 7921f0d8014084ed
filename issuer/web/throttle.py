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

from flask import request
from limits import parse

from verifier.web import limiter

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
