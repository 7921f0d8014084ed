"""The verifier's rate-limit pieces (verifier/web/ratelimit.py): the
memory storage without a timer thread, and what ECERT_RATELIMIT_STORAGE
maps to."""

from __future__ import annotations

import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from verifier.web import limiter
from verifier.web.ratelimit import InlineExpiryMemoryStorage, VerifierLimiter, storage_uri


class Ticker:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_memory_storage_means_the_one_without_a_timer_thread():
    assert storage_uri("memory://") == "ecert-memory://"
    assert storage_uri("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"
    assert isinstance(storage_from_string("ecert-memory://"), InlineExpiryMemoryStorage)
    assert isinstance(limiter, VerifierLimiter)


def test_counts_expire_and_are_swept_without_starting_threads(monkeypatch):
    ticker = Ticker()
    monkeypatch.setattr(time, "time", ticker)  # the clock of limits' windows and expiries
    storage = InlineExpiryMemoryStorage("ecert-memory://", clock=ticker)  # and of its sweeps
    storage.timer.join()  # the one MemoryStorage starts when made
    first_timer = storage.timer
    window = FixedWindowRateLimiter(storage)
    one = parse("1/second")
    assert window.hit(one, "10.0.0.1", "api.verify_get")
    assert not window.hit(one, "10.0.0.1", "api.verify_get")  # over the limit
    assert window.hit(one, "10.0.0.2", "api.verify_get")  # per client
    ticker.advance(1.1)
    assert window.hit(one, "10.0.0.1", "api.verify_get")  # a new window
    assert storage.timer is first_timer and not first_timer.is_alive()  # no thread started
    storage.incr("gone", 0.01)
    ticker.advance(0.02)
    storage.incr("kept", 60)
    assert "gone" in storage.expirations  # the last sweep was less than SWEEP_SECONDS ago
    ticker.advance(InlineExpiryMemoryStorage.SWEEP_SECONDS)  # a sweep is due
    storage.incr("other", 60)
    assert storage.get("other") == 1 and "gone" not in storage.expirations
    assert storage.get("kept") == 1
