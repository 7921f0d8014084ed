"""Rate limits per client, at a small cost per request.

`limiter.limit` as a decorator makes Flask-Limiter check every request
twice, once in its before_request hook and once in the decorator, and each
check resolves the route's limits anew (view lookup, exemptions, blueprint
and default limits, a request-scoped context). On the verify API that was
about a quarter of the app's time. So the API's routes use `per_client`,
which does the decorator's one useful step: it counts the request in the
limiter's own strategy and storage (`limiter.reset()`, RATELIMIT_ENABLED,
RATELIMIT_STRATEGY, RATELIMIT_KEY_PREFIX and ECERT_RATELIMIT_STORAGE
apply) under the key Flask-Limiter would use (client address, endpoint),
and over the limit answers what Flask-Limiter answers: 429 Too Many
Requests, "600 per 1 minute". `VerifierLimiter`'s hooks (before_request,
after_request, teardown) skip those routes, so each request is checked
once and no limiter context is made for it. A route limited this
way gets no application-wide, default or blueprint limits and no
X-RateLimit headers (none are configured), and `flask limiter limits` does
not list it; `limiter.limit` inside its view still works.

`memory://` storage (one count per worker, the default) is limits'
MemoryStorage without its timer thread: see `InlineExpiryMemoryStorage`.

A batch spends a route's budget by the item (`Budget`, `spend`): a batch
of N certificates counts as N requests to that route, from the same
per-client count, and is refused whole (`OverBudget`, a 429 saying how
many are left) when the budget cannot cover all N.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, cast

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from werkzeug.exceptions import TooManyRequests

_MARK = "_ecert_per_client_limit"
_P = ParamSpec("_P")
_R = TypeVar("_R")
# One of Flask's after_request or teardown_request hooks: called with the
# response, or with the exception (or None), and returning the response.
_Hook = TypeVar("_Hook", bound=Callable[[Any], object])


def per_client(limiter: Limiter, limit: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate a view: at most `limit` ("600 per minute"; several joined
    by ";") requests per client address, counted per endpoint."""
    items = sorted(parse_many(limit))  # the shortest window first, as Flask-Limiter checks them

    def decorate(view: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(view)
        def limited(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            if limiter.enabled and limiter.initialized:
                _hit(limiter, items)
            return view(*args, **kwargs)

        setattr(limited, _MARK, True)
        return limited

    return decorate


def _ids(scope: str | None) -> tuple[str, ...]:
    """What Flask-Limiter counts a request under: (prefix,) client address, scope."""
    key = get_remote_address()
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX")
    return (prefix, key, scope or "") if prefix else (key, scope or "")


def _hit(limiter: Limiter, items: Iterable[RateLimitItem]) -> None:
    ids = _ids(request.endpoint)
    strategy = limiter.limiter
    for item in items:
        if not strategy.hit(item, *ids):
            limiter.logger.info("ratelimit %s (%s) exceeded at endpoint: %s", item, ids[-2], ids[-1])
            raise TooManyRequests(description=str(item))


class Budget:
    """A route's per-client budget that others may spend from: `limit` as
    `per_client` takes it, counted under `scope`, the route's endpoint."""

    def __init__(self, limit: str, scope: str) -> None:
        self.limit, self.scope = limit, scope
        self.items = sorted(parse_many(limit))


class OverBudget(TooManyRequests):
    """A batch the client's budget cannot cover: nothing was counted.
    `asked` items, `left` of them could still be spent in the window of
    `limit` (the tightest), which starts afresh in `retry_after` seconds."""

    def __init__(self, asked: int, left: int, limit: RateLimitItem, retry_after: int) -> None:
        super().__init__(description=f"{asked} items asked, {left} left of {limit}")
        self.asked, self.left, self.limit, self.retry_after = asked, left, limit, retry_after


def spend(limiter: Limiter, budget: Budget, cost: int) -> None:
    """Count `cost` requests of this client against `budget`, all or none:
    OverBudget when any of its limits cannot take them all."""
    if cost <= 0 or not (limiter.enabled and limiter.initialized):
        return
    ids = _ids(budget.scope)
    strategy = limiter.limiter
    for item in budget.items:
        if not strategy.test(item, *ids, cost=cost):
            reset, left = strategy.get_window_stats(item, *ids)
            limiter.logger.info("ratelimit %s (%s) exceeded by a batch of %d", item, ids[-2], cost)
            raise OverBudget(cost, left, item, max(1, math.ceil(reset - time.time())))
    for item in budget.items:
        strategy.hit(item, *ids, cost=cost)


class SharedCount:
    """A per-client count that several routes share, under one name: the
    查验码 attempts of the lookup page and the wrong ones of a batch."""

    def __init__(self, limit: str, name: str) -> None:
        self.limit, self.name = limit, name
        self.items = sorted(parse_many(limit))

    def allows(self, limiter: Limiter) -> bool:
        """Whether one more would be within every limit (counts nothing)."""
        if not (limiter.enabled and limiter.initialized):
            return True
        ids = _ids(self.name)
        return all(limiter.limiter.test(item, *ids) for item in self.items)

    def hit(self, limiter: Limiter) -> None:
        """Count one; TooManyRequests when that is past a limit."""
        if not (limiter.enabled and limiter.initialized):
            return
        ids = _ids(self.name)
        for item in self.items:
            if not limiter.limiter.hit(item, *ids):
                limiter.logger.info("ratelimit %s (%s) exceeded: %s", item, ids[-2], self.name)
                raise TooManyRequests(description=str(item))


def counts_itself() -> bool:
    """Whether this request's view is limited by `per_client` (asked by
    three hooks a request: the answer is kept in the request's environ)."""
    environ = request.environ
    known: bool | None = environ.get(_MARK)
    if known is None:
        endpoint = request.endpoint  # None only when no route matched: no view, not limited
        view = current_app.view_functions.get(endpoint) if endpoint is not None else None
        known = environ[_MARK] = bool(getattr(view, _MARK, False))
    return known


class VerifierLimiter(Limiter):
    """Flask-Limiter, whose hooks leave alone the routes that `per_client`
    limits: its before_request check, and its after_request (headers and
    conditional deductions, none configured) and teardown hooks, which
    only serve limits it checked itself. Checks from decorators and
    `with limiter.limit(...)` elsewhere run as ever."""

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        # Flask-Limiter registers partial(Limiter.__inject_headers, self) and
        # self.__release_context; should it register them otherwise, nothing is
        # wrapped here and they just run for every request, as before.
        self._skip_for_per_client(app.after_request_funcs.get(None, []))
        self._skip_for_per_client(app.teardown_request_funcs.get(None, []))

    def _skip_for_per_client(self, funcs: list[_Hook]) -> None:
        """This limiter's hooks among `funcs`, wrapped by _skipped_for_per_client."""
        for i, hook in enumerate(funcs):
            if getattr(hook, "__self__", None) is self or getattr(hook, "args", (None,))[:1] == (self,):
                funcs[i] = _skipped_for_per_client(hook)

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and counts_itself():
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


def _skipped_for_per_client(hook: _Hook) -> _Hook:
    """A response or teardown hook that passes over `per_client` routes
    (it returns its first argument: the response for after_request)."""

    @functools.wraps(hook)
    def hook_unless_counted(arg: object = None) -> object:
        return arg if counts_itself() else hook(arg)

    # Called as the hook is and returning what it does, or the response (a
    # teardown hook's result, here the exception or None, is ignored by Flask).
    return cast(_Hook, hook_unless_counted)


class InlineExpiryMemoryStorage(MemoryStorage):
    """limits' MemoryStorage without its timer thread. MemoryStorage starts
    a new threading.Timer whenever the previous one has run, so under load
    a worker starts a thread every 10 ms, each walking every key. Expired
    counts are dropped when read in any case; here the walk runs inline, at
    most once every SWEEP_SECONDS. (Should limits rename the method this
    overrides, its own timer simply comes back.) `clock` times the sweeps:
    time.monotonic unless given."""

    STORAGE_SCHEME = ["ecert-memory"]
    SWEEP_SECONDS = 1.0
    _swept = 0.0

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        clock: Callable[[], float] = time.monotonic,
        **options: str,
    ) -> None:
        self.clock = clock
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    def _MemoryStorage__schedule_expiry(self) -> None:
        now = self.clock()
        if now - self._swept >= self.SWEEP_SECONDS:
            self._swept = now
            # MemoryStorage.__expire_events by its mangled name, which mypy does not model
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def storage_uri(uri: str) -> str:
    """ECERT_RATELIMIT_STORAGE as limits takes it: `memory://` is
    InlineExpiryMemoryStorage; anything else (`redis://…`) as given."""
    return "ecert-memory://" if uri.strip() == "memory://" else uri
