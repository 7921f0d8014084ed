#!/usr/bin/env python3
"""Speed of the public verifier over HTTP: the JSON API and the QR landing
page under gunicorn, loaded with wrk on loopback, beside a bare baseline.

    .venv/bin/python benchmarks/bench_verifier.py [--teachers 1000]
        [--records-per-teacher 10] [--duration 15] [--connections 16]
        [--threads 2] [--workers 2] [--clients 1000] [--rounds 5]
        [--configs baseline,api+limiter,api] [--gunicorn-config serving|none]
        [--worker-class sync|gthread] [--gthreads 4] [--runs 3]
        [--no-in-process] [--profile] [--before REF]

Needs wrk (Debian: `sudo apt-get install -y wrk`); without it the script
says how to install it and exits 0.

Generates the sample files (scripts/make_sample.py, deterministic) into a
temporary folder, imports them into a fresh SQLite file (migrate; projects,
roster with registration, records, each in its own write_session), creates
a signing key and issues every teacher's certificate (as_of 2026-11-23), as
bench_issue.py does. Every issued token is then a request.

In a fresh process (spawned: its heap is a server worker's, not this
process's after the imports and issuance), over the same tokens, each the
best of --runs: raw Ed25519 verifications (cryptography, a 300-byte message:
the machine's yardstick), the baseline's work alone (base32 → bytes, COSE
decode, Ed25519 over the Sig_structure), a DatabaseStatus lookup alone,
Verifier.verify_raw with the online status source (DatabaseStatus, one
SQLite query a token), what the API handler does without Flask
(verify_text, to_json, JSON encoding), and the whole Flask stack without a
server (the test client) for the API, the landing page and the baseline.

Then, over HTTP, each app served by gunicorn as production serves it
(verifier/web/serving.py: sync workers, the start-up heap frozen
out of the collector, the heartbeat file in /dev/shm; --workers of them,
bound to 127.0.0.1, no access log), the bare route alike;
`--gunicorn-config none` serves plain gunicorn instead (the serving before
issue 18), `--worker-class gthread` threads with keep-alive, for all alike.
Each endpoint loaded by `wrk -t THREADS -c CONNECTIONS -d DURATION --latency`
after a 3 s warm-up, through a Lua script that rotates over every issued
token so that each request verifies a different certificate. --configs
chooses among (the bare route always; default the first three and the floor):

  - baseline: a bare Flask app with one route, GET /b/<base32>, that only
    decodes the token (base32 → bytes → COSE_Sign1) and checks its Ed25519
    signature, answering {"valid": true};
  - api+limiter: the JSON API, GET /api/v1/verify?token=<base32>, with the
    rate limiter on, as production runs (the API's per-client count,
    verifier/web/ratelimit.py, in the limiter's memory:// storage), each
    request from one of --clients simulated client addresses (a header the
    benchmark's WSGI wrapper turns into REMOTE_ADDR), so that no client
    reaches the API's 600 a minute;
  - api: the same with the rate limiter off;
  - landing: GET /V/<base32>, the landing page (rate limiter off);
  - api-unbound: the JSON API without the register's digest check (a benchmark-only
    switch: the token's SHA-256 neither computed nor compared), to price
    the binding of tokens to the register in the same run;
  - floor: a Flask route doing only what any verifier of ours must do before
    it may say "valid": the token parsed as strictly as verifier/token.py
    parses it, its Ed25519 signature, the register's lookup and the digest
    binding (verifier/status.py), answering {"valid": true} as the bare route
    does: no messages, no certificate, no reading, no limiter. Its ratio to
    the bare route is a ceiling for the API's (issue 18 asks 0.8×);
  - with --before REF, the verifier at an earlier commit (a git worktree)
    on the same database: the whole change since, in the same run.

The API allows 600 requests a minute per client address, and every wrk
connection comes from 127.0.0.1: the limiter-off runs set
RATELIMIT_ENABLED=False (which Flask-Limiter and the API's own count honour);
the limiter-on runs spread the load over the simulated addresses.

Before loading, every token is fetched once from each server and must come
back valid (else an error). Every served module gets a benchmark-only probe
around its WSGI app (PROBE below) that sums the CPU time inside the app and
explains each request slower than 30 ms inside it: the collector's pauses
during it (gc.callbacks), the time in the register's lookup, the limiter's
count and the key set's re-read, and its wall time against its CPU time
(much more wall than CPU: the worker waited for a core). wrk's Lua script
counts the requests slower than 30 ms as the client saw them; those not
slow inside the app waited outside it (the listen queue: with more
connections than sync workers a request waits for the requests ahead of it,
and for a worker paused or off the CPU).

Each of --rounds rounds loads every configuration, the order reversed
every other round, after measuring raw Ed25519 in this process (the
machine's speed drifts on a shared VM: the yardstick shows by how much);
the servers run side by side, idle but for the one loaded. Each round's
table: for each configuration requests/s and its ratio to the bare route's
in the same round, p50/p99/max latency, the requests slower than 30 ms (wrk)
and how many were that slow inside the app, by cause; full collections and
the longest collector pause; the CPU used per request by the server
(gunicorn master and workers, from /proc) and inside the app; how many
cores other processes kept busy meanwhile (from /proc/stat; a run above
0.25 is flagged); non-2xx responses or socket errors mark a run not valid.
Then the median round per configuration, ours ÷ baseline round by round
(median and range), beside the in-process rates; and issue 18's target for
the JSON API with the limiter on: p99 under 30 ms in every round and at
least 0.8× the bare route's requests/s. With --profile, cProfile of the API
through the Flask test client, limiter off and on.

Prints figures only: it never fails on speed. It exits non-zero only on a
real error (an import refused, a teacher not issued, a token that does not
verify, a server that does not start, wrk failing).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cbor2  # noqa: E402
import orjson  # noqa: E402
import sqlalchemy  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey  # noqa: E402
from sqlalchemy import select  # noqa: E402

from benchmarks.common import BenchError, best_rate, cpu_name, run_main, say, timed  # noqa: E402
from issuer.certificates.issuance import IssueOptions, Issuer  # noqa: E402
from issuer.certificates.keystore import PASSPHRASE_ENV, Keystore  # noqa: E402
from issuer.db import make_engine, migrate, read_session, write_session  # noqa: E402
from issuer.ledger.importing.projects import import_projects  # noqa: E402
from issuer.ledger.importing.records import import_records  # noqa: E402
from issuer.ledger.importing.roster import import_roster  # noqa: E402
from issuer.models import Certificate  # noqa: E402
from scripts.make_sample import generate  # noqa: E402
from verifier.clock import today_in_china  # noqa: E402
from verifier.keyset import KeySet  # noqa: E402
from verifier.profiles import load_profile  # noqa: E402
from verifier.status import DatabaseStatus  # noqa: E402
from verifier.token import from_b64u, from_base32, parse  # noqa: E402
from verifier.verify import Verifier  # noqa: E402

json_text = orjson.dumps  # as the API encodes (verifier/web/common.py, json_response)

PROFILE_ID = "horgos-7"
AS_OF = date(2026, 11, 23)  # the credit sheets' date, fixed so that runs compare
BASE_URL = "HTTP://127.0.0.1:5000"
ACTOR = "bench"
PASSPHRASE = "bench-only-throwaway-passphrase"  # a temp key in a temp folder
RAW_MESSAGE_BYTES = 300
TARGET_RATIO = 0.8  # issue 18: the JSON API, limiter on, ≥ 0.8× the bare route's req/s
TARGET_P99_MS = 30.0  # ... with p99 under 30 ms in every round
ISSUE_BASELINE = "about 2,800 req/s, p99 15 ms"  # the issue's figure for the bare app, this machine
WARMUP_SECONDS = 3
BUSY_CORES = 0.25  # other processes' load during a run above which it is flagged
WRK_INSTALL = (
    "wrk is not installed. On Debian/Ubuntu: sudo apt-get install -y wrk\n"
    "(macOS: brew install wrk; or build it from https://github.com/wg/wrk). "
    "Then run this script again."
)


# -- data and database -----------------------------------------------------


def prepare(folder: Path, teachers: int, per_teacher: float, profile) -> dict:
    """Sample files, a fresh SQLite database with them imported, a signing
    key, every teacher issued; the issued tokens and the public keys."""
    counts, gen_s = timed(
        lambda: generate(folder / "files", teachers=teachers, records_per_teacher=per_teacher)
    )
    files = {k: folder / "files" / f"{k}.csv" for k in ("projects", "roster", "records")}
    db_path = folder / "bench.sqlite3"
    url, keys_dir = f"sqlite:///{db_path}", folder / "keys"
    engine = make_engine(url)
    try:

        def setup() -> object:
            migrate(engine)
            for name, work in (
                ("projects", lambda s: import_projects(s, files["projects"])),
                ("roster", lambda s: import_roster(s, files["roster"], profile)),
                ("records", lambda s: import_records(s, files["records"])),
            ):
                with write_session(engine) as session:
                    result = work(session)
                if result.created != counts[f"{name}.csv"]:
                    raise BenchError(
                        f"{result.summary()}: {result.created:,} of {counts[f'{name}.csv']:,} rows created"
                    )
            with write_session(engine) as session:
                Keystore(keys_dir, actor=ACTOR).create(session, profile.issuer_code)
            return Issuer(engine, profile, Keystore(keys_dir, actor=ACTOR), BASE_URL, ACTOR).run(
                IssueOptions(as_of=AS_OF)
            )

        summary, setup_s = timed(setup)
        if summary.issued != counts["roster.csv"] or summary.refused:
            raise BenchError(
                f"issuance of {counts['roster.csv']:,} teachers: {summary.issued:,} issued, "
                f"{len(summary.refused):,} refused"
            )
        with read_session(engine) as session:
            rows = session.execute(
                select(Certificate.number, Certificate.token)
                .where(Certificate.state == "current")
                .order_by(Certificate.number)
            ).all()
        keys = {from_b64u(k.kid): k.public_raw for k in KeySet.from_database(engine)}
    finally:
        engine.dispose()
    say(
        f"  {counts['roster.csv']:,} teachers, {counts['records.csv']:,} records generated in "
        f"{gen_s:.1f} s; imported and issued in {setup_s:.1f} s (not measured further)"
    )
    return {
        "url": url,
        "db_path": str(db_path),
        "tokens": [r.token for r in rows],
        "keys": keys,
        "teachers": counts["roster.csv"],
    }


# -- the apps ----------------------------------------------------------------

OURS_MODULE = '''\
"""The verifier alone, as the benchmark serves it (written by bench_verifier.py)."""
import sys
sys.path.insert(0, {root!r})
from verifier.web import create_app

app = create_app({url!r}{config})
'''

CLIENT_WRAPPER = """
# Benchmark only: each request's client address from X-Bench-Client, so that
# the load spreads over many clients and none reaches the API's rate limit.
_inner = app.wsgi_app


def _as_client(environ, start_response):
    client = environ.get("HTTP_X_BENCH_CLIENT")
    if client:
        environ["REMOTE_ADDR"] = client
    return _inner(environ, start_response)


app.wsgi_app = _as_client
"""

BASELINE_MODULE = '''\
"""The baseline (written by bench_verifier.py): a bare Flask route that
decodes the token (base32 -> bytes -> COSE_Sign1) and checks its Ed25519
signature over the RFC 9052 Sig_structure. Nothing else: no claims, no key
window, no status, no database; the public keys are in this file."""
import sys
sys.path.insert(0, {root!r})
import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask, jsonify

from verifier.token import from_base32  # the fastest base32 decoder at hand

KEYS = {{bytes.fromhex(kid): Ed25519PublicKey.from_public_bytes(bytes.fromhex(x))
        for kid, x in {keys!r}.items()}}
app = Flask(__name__)


@app.get("/b/<token>")
def verify(token):
    try:
        protected, _unprotected, payload, signature = cbor2.loads(from_base32(token)).value
        kid = cbor2.loads(protected)[4]
        KEYS[kid].verify(signature, cbor2.dumps(["Signature1", protected, b"", payload]))
        return jsonify(valid=True)
    except Exception:  # any failure is "not valid", as a bare checker would say
        return jsonify(valid=False), 400
'''


FLOOR_MODULE = '''\
"""The floor (written by bench_verifier.py): what any verifier of ours
must do before it may say "valid", and nothing more: the token parsed as
strictly as the verifier parses it (verifier/token.py: canonical CBOR, every
claim's type, the number's check character), its Ed25519 signature, and the
register's lookup with the digest binding (verifier/status.py). It answers
{{"valid": ...}} as the bare route does: no checks' messages, no key window,
no certificate, no credits reading, no rate limiter."""
import sys
sys.path.insert(0, {root!r})
from flask import Flask, jsonify
from sqlalchemy import create_engine

from verifier.keyset import KeySet
from verifier.status import DatabaseStatus
from verifier.token import TokenError, from_base32, parse, token_digest, verify_signature

_engine = create_engine({url!r})
KEYS = KeySet.from_database(_engine)
_engine.dispose()  # the workers connect afresh (DatabaseStatus: one connection a thread)
STATUS = DatabaseStatus(_engine)
app = Flask(__name__)


@app.get("/f/<token>")
def verify(token):
    try:
        raw = from_base32(token)
        t = parse(raw)
    except TokenError:
        return jsonify(valid=False), 400
    key = KEYS.get(t.kid)
    info = STATUS.lookup(t.claims.number, t.claims.version) if key else None
    state = info.of(t.claims.version) if info else None
    if state and verify_signature(t, key.verifying_key) and state.issued(token_digest(raw)):
        return jsonify(valid=True)
    return jsonify(valid=False), 400
'''


UNBOUND = """
# Benchmark only: the register's binding switched off (the token's SHA-256
# neither computed nor compared with the register's digest), to price the
# digest check beside "ours" in the same run. Never in the product.
import verifier.status as _status, verifier.verify as _verify
_verify.token_digest = lambda raw: ""
_status.VersionState.issued = lambda self, digest: True
"""


PROBE = """
# Benchmark only: a probe around the WSGI app in each worker. It sums the CPU
# time spent inside the app (the calling thread's: Flask and the view; the rest
# of a worker's CPU is gunicorn's and the kernel's) and, for each request slower than {slow_ms} ms
# inside the app, what happened meanwhile: the collector's pauses (gc.callbacks)
# and the time spent in the register's lookup (DatabaseStatus._rows), the rate
# limiter's count (ratelimit._hit) and the key set's re-read (KeySet.from_database),
# with its wall and CPU time (wall much above CPU: the worker was off the CPU,
# or, in a gthread worker, waiting for the GIL).
# Written to {stats}/app-cpu-<pid>.json every 100 requests and after each slow one.
import gc as _gc, json as _json, os as _os, sys as _sys, time as _time

_timed_inner, _pc, _pt, _now = app.wsgi_app, _time.perf_counter, _time.thread_time, _time.time
_SLOW = {slow_ms} / 1e3
_st = {{"requests": 0, "cpu": 0.0, "gc_n": [0, 0, 0], "gc_s": [0.0, 0.0, 0.0], "slow": [], "pauses": []}}
_req = {{"on": False, "gc": 0.0, "gen": -1, "sql": 0.0, "limiter": 0.0, "keys": 0.0, "gc0": 0.0}}


def _gc_probe(phase, info):
    if phase == "start":
        _req["gc0"] = _pc()
        return
    d, gen = _pc() - _req["gc0"], info["generation"]
    _st["gc_n"][gen] += 1
    _st["gc_s"][gen] += d
    if _req["on"]:
        _req["gc"] += d
        _req["gen"] = max(_req["gen"], gen)
    if d >= 0.005:
        _st["pauses"] = _st["pauses"][-999:] + [[_now(), d, gen]]


_gc.callbacks.append(_gc_probe)


def _timing(key, fn):
    def timed(*args, **kwargs):
        t0 = _pc()
        try:
            return fn(*args, **kwargs)
        finally:
            _req[key] += _pc() - t0

    return timed


if "verifier.web.ratelimit" in _sys.modules:  # ours (the baseline has none of these)
    import verifier.keyset as _keyset, verifier.status as _status, verifier.web.ratelimit as _rl

    _status.DatabaseStatus._rows = _timing("sql", _status.DatabaseStatus._rows)
    _rl._hit = _timing("limiter", _rl._hit)
    _keyset.KeySet.from_database = classmethod(_timing("keys", _keyset.KeySet.from_database.__func__))


def _dump():
    _f = f"{stats}/app-cpu-{{_os.getpid()}}.json"
    with open(_f + ".tmp", "w") as _out:
        _out.write(_json.dumps(_st))
    _os.replace(_f + ".tmp", _f)


def _timed(environ, start_response):
    _req.update(on=True, gc=0.0, gen=-1, sql=0.0, limiter=0.0, keys=0.0)
    t0, c0 = _pc(), _pt()
    try:
        return _timed_inner(environ, start_response)
    finally:
        wall, cpu = _pc() - t0, _pt() - c0
        _req["on"] = False
        _st["requests"] += 1
        _st["cpu"] += cpu
        if wall >= _SLOW:
            _st["slow"] = _st["slow"][-999:] + [
                {{"t": _now(), "wall": wall, "cpu": cpu, "gc": _req["gc"], "gen": _req["gen"],
                  "sql": _req["sql"], "limiter": _req["limiter"], "keys": _req["keys"]}}
            ]
            _dump()
        elif _st["requests"] % 100 == 0:
            _dump()


app.wsgi_app = _timed
"""
SLOW_MS = 30.0  # a request slower than this is counted (wrk) and explained (the probe)
CAUSES = ("gc", "keys", "sql", "limiter", "off-cpu", "cpu")


def slow_cause(s: dict) -> str:
    """What made one slow request slow, from the probe's record: the first
    of the collector, the key set's re-read, the register's lookup or the
    limiter that took half its time; else off the CPU (its wall time more
    than twice its CPU time: the worker waited for a core), else its own CPU."""
    half = s["wall"] / 2
    for cause in ("gc", "keys", "sql", "limiter"):
        if s[cause] >= half:
            return cause
    return "off-cpu" if s["wall"] - s["cpu"] >= half else "cpu"


def write_apps(folder: Path, db: dict, before: Path | None = None) -> dict[str, str]:
    """The WSGI modules gunicorn serves; name → module:app. Each served
    module is also written bare (bench_*_inproc.py, for the test client).
    `before`: a checkout of an earlier commit, served as "before"."""
    folder.mkdir(parents=True, exist_ok=True)
    root, url = str(ROOT), f"sqlite:///{db['db_path']}"
    off = ", RATELIMIT_ENABLED=False"
    modules = {
        "bench_ours": OURS_MODULE.format(root=root, url=url, config=off),
        "bench_ours_unbound": OURS_MODULE.format(root=root, url=url, config=off) + UNBOUND,
        "bench_ours_limited": OURS_MODULE.format(root=root, url=url, config=", RATELIMIT_ENABLED=True")
        + CLIENT_WRAPPER,
        "bench_baseline": BASELINE_MODULE.format(
            root=root, keys={k.hex(): v.hex() for k, v in db["keys"].items()}
        ),
        "bench_floor": FLOOR_MODULE.format(root=root, url=url),
    }
    if before is not None:
        modules["bench_before"] = OURS_MODULE.format(root=str(before), url=url, config=off)
    for name, text in modules.items():
        stats = folder / f"stats-{name}"
        stats.mkdir(exist_ok=True)
        (folder / f"{name}_inproc.py").write_text(text)
        (folder / f"{name}.py").write_text(text + PROBE.format(stats=str(stats), slow_ms=SLOW_MS))
    targets = {
        "ours": "bench_ours:app",
        "ours+limiter": "bench_ours_limited:app",
        "ours-unbound": "bench_ours_unbound:app",
        "baseline": "bench_baseline:app",
        "floor": "bench_floor:app",
    }
    if before is not None:
        targets["before"] = "bench_before:app"
    return targets


@contextmanager
def checkout(ref: str | None, folder: Path):
    """A detached git worktree of `ref` (None: nothing), removed after."""
    if ref is None:
        yield None
        return
    where = folder / "before"
    done = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), ref],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BenchError(f"--before {ref}: git worktree add failed: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)],
            capture_output=True,
            text=True,
        )


def probe_stats(folder: Path, module: str) -> dict:
    """What the workers' probes wrote so far, over the workers: requests and
    CPU seconds inside the app, collections by generation (count, seconds),
    the slow requests' records and the collector's pauses of 5 ms or more."""
    out: dict = {
        "requests": 0,
        "cpu": 0.0,
        "gc_n": [0, 0, 0],
        "gc_s": [0.0, 0.0, 0.0],
        "slow": [],
        "pauses": [],
    }
    for f in (folder / f"stats-{module}").glob("app-cpu-*.json"):
        try:
            d = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        out["requests"] += d["requests"]
        out["cpu"] += d["cpu"]
        for g in range(3):
            out["gc_n"][g] += d["gc_n"][g]
            out["gc_s"][g] += d["gc_s"][g]
        out["slow"] += d["slow"]
        out["pauses"] += d["pauses"]
    return out


def load_module(folder: Path, name: str):
    """A written app module, imported in this process (for the test client)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- in a fresh process ----------------------------------------------------------


def in_fresh_process(db: dict, apps_dir: Path, runs: int, profile: bool) -> dict:
    """_in_process in a new interpreter (spawn), whose heap is a server
    worker's, not this one's (the imports and issuance leave a large heap
    that makes the collector, and so everything, slower)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_in_process, db, str(apps_dir), runs, profile).result()


def bare_check(keys: dict[bytes, Ed25519PublicKey], text: str) -> bool:
    """The baseline route's work, without Flask."""
    protected, _u, payload, signature = cbor2.loads(from_base32(text)).value
    keys[cbor2.loads(protected)[4]].verify(signature, cbor2.dumps(["Signature1", protected, b"", payload]))
    return True


def _in_process(db: dict, apps_dir_text: str, runs: int, profile: bool) -> dict:
    """The child: every loop over the same tokens, each the best of `runs`;
    with `profile`, cProfile of the API through the test client."""
    apps_dir = Path(apps_dir_text)
    tokens = db["tokens"]
    n = len(tokens)
    at = max(AS_OF, today_in_china())  # not before the tokens' issue date
    engine = make_engine(db["url"])
    try:
        status = DatabaseStatus(engine)
        verifier = Verifier(KeySet.from_database(engine), status)
        keys = {k: Ed25519PublicKey.from_public_bytes(v) for k, v in db["keys"].items()}
        numbers = [parse(from_base32(t)).claims.number for t in tokens]
        private = Ed25519PrivateKey.generate()
        message = os.urandom(RAW_MESSAGE_BYTES)
        signature, public = private.sign(message), private.public_key()

        def raw() -> int:
            for _ in range(n):
                public.verify(signature, message)
            return n

        def verify_all(fn: Callable[[str], object]) -> Callable[[], int]:
            def run() -> int:
                for t in tokens:
                    result = fn(t)
                    if not result.valid:
                        raise BenchError(
                            f"an issued token does not verify in process: {result.first_failure}"
                        )
                return n

            return run

        def api_work(t: str):
            result = verifier.verify_text(t, at)
            json_text(result.to_json())
            return result

        rates = {
            "raw": best_rate(raw, runs),
            "bare": best_rate(lambda: sum(bare_check(keys, t) for t in tokens), runs),
            "status": best_rate(lambda: sum(1 for x in numbers if status.lookup(x)), runs),
            "verify_raw": best_rate(verify_all(lambda t: verifier.verify_raw(from_base32(t), at)), runs),
            "api_work": best_rate(verify_all(api_work), runs),
        }
        with unbound():
            rates["verify_raw_unbound"] = best_rate(
                verify_all(lambda t: verifier.verify_raw(from_base32(t), at)), runs
            )
            rates["api_work_unbound"] = best_rate(verify_all(api_work), runs)
        verifier.close()
    finally:
        engine.dispose()
    ours = load_module(apps_dir, "bench_ours_inproc").app.test_client()
    base = load_module(apps_dir, "bench_baseline_inproc").app.test_client()
    api_paths = [f"/api/v1/verify?token={t}" for t in tokens]
    valid_json, valid_page = b'"valid":true', "证书真实有效".encode()
    rates["client_api"] = best_rate(_client_loop(ours, api_paths, valid_json), runs)
    rates["client_landing"] = best_rate(_client_loop(ours, [f"/V/{t}" for t in tokens], valid_page), runs)
    rates["client_baseline"] = best_rate(_client_loop(base, [f"/b/{t}" for t in tokens], valid_json), runs)
    out: dict = {"rates": rates}
    if profile:
        out["profile"] = [
            ("the JSON API, rate limiter off", _profile(_client_loop(ours, api_paths, valid_json)))
        ]
        # Last: flask_limiter's Limiter is one object for the process (verifier.web.limiter),
        # and each app's init_app sets whether it is enabled for all.
        limited = load_module(apps_dir, "bench_ours_limited_inproc").app.test_client()
        out["profile"].append(
            (
                "the JSON API, rate limiter on, 1,000 client addresses",
                _profile(_client_loop(limited, api_paths, valid_json, clients=1000)),
            )
        )
    return out


@contextmanager
def unbound():
    """The UNBOUND module's switch, in this process, for the in-process loops."""
    import verifier.status as status_mod
    import verifier.verify as verify_mod

    digest, issued = verify_mod.token_digest, status_mod.VersionState.issued
    verify_mod.token_digest = lambda raw: ""
    status_mod.VersionState.issued = lambda self, d: True
    try:
        yield
    finally:
        verify_mod.token_digest, status_mod.VersionState.issued = digest, issued


def _client_loop(client, paths: list[str], marker: bytes, clients: int = 0) -> Callable[[], int]:
    def run() -> int:
        for k, p in enumerate(paths):
            headers = {"X-Bench-Client": client_address(k % clients)} if clients else None
            r = client.get(p, headers=headers)
            if r.status_code != 200 or marker not in r.data:
                raise BenchError(f"test client GET {p[:60]}…: {r.status_code} {r.data[:300]!r}")
        return len(paths)

    return run


def client_address(c: int) -> str:
    return f"10.{(c >> 16) & 255}.{(c >> 8) & 255}.{c & 255}"


def _profile(work: Callable[[], int]) -> str:
    work()  # warm
    prof = cProfile.Profile()
    prof.enable()
    n = work()
    prof.disable()
    text = [f"{n:,} requests"]
    for sort, top in (("tottime", 20), ("cumulative", 35)):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(sort).print_stats(top)
        body = out.getvalue()
        start = body.find("   ncalls")
        text.append(
            f"-- by {sort} --\n"
            + (body[start:] if start >= 0 else body)
            .rstrip()
            .replace(str(ROOT) + "/", "")
            .replace(sys.prefix + "/", "")
        )
    return "\n".join(text)


def report_in_process(r: dict[str, float], n: int) -> None:
    say(f"\n== in a fresh process, one core, over the {n:,} issued tokens (best of the runs) ==")
    lines = (
        ("raw Ed25519 verify", "raw", f"{RAW_MESSAGE_BYTES}-byte message, cryptography"),
        ("baseline's work, no Flask", "bare", "base32 → COSE → Ed25519 over the Sig_structure"),
        ("status lookup alone", "status", "DatabaseStatus.lookup: one SQLite query"),
        ("verify_raw, online status", "verify_raw", "from_base32 + Verifier.verify_raw, DatabaseStatus"),
        ("  the same, no digest check", "verify_raw_unbound", "the register's binding switched off"),
        ("API handler's work, no Flask", "api_work", "verify_text + to_json + JSON encoding"),
        ("  the same, no digest check", "api_work_unbound", "the register's binding switched off"),
        ("Flask test client: JSON API", "client_api", "whole app, limiter off, no server"),
        ("Flask test client: landing", "client_landing", "whole app + Jinja page, no server"),
        ("Flask test client: baseline", "client_baseline", "the bare app, no server"),
    )
    for name, key, note in lines:
        say(f"  {name:<30}{r[key]:>9,.0f} /s  {1e6 / r[key]:6.0f} µs   ({note})")
    for name, key in (("verify_raw", "verify_raw"), ("the API handler's work", "api_work")):
        say(
            f"  the digest check's cost in {name}: {1 - r[key] / r[key + '_unbound']:+.1%} of its rate "
            f"({1e6 / r[key] - 1e6 / r[key + '_unbound']:+.1f} µs a token)"
        )


# -- gunicorn ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


class Server:
    """gunicorn serving one app module on a free loopback port."""

    def __init__(self, app_dir: Path, target: str, workers: int, log: Path, options: list[str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        cmd = [
            str(gunicorn) if gunicorn.exists() else "gunicorn",
            *options,
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--chdir",
            str(app_dir),
            "--log-level",
            "warning",
            target,
        ]
        env = {**os.environ, "ECERT_RATELIMIT_STORAGE": "memory://"}
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115  (open while the server runs; closed in stop())
        self.proc = subprocess.Popen(
            cmd, stdout=self._log_file, stderr=subprocess.STDOUT, env=env, cwd=str(app_dir)
        )
        self.workers = workers
        self.app_dir, self.module = app_dir, target.split(":")[0]

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"gunicorn exited with {self.proc.returncode}:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(self.base + path, timeout=5) as r:
                    r.read()
                if len(children(self.proc.pid)) >= self.workers:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        raise BenchError(f"gunicorn did not answer within {timeout:.0f} s:\n{self._log_tail()}")

    def cpu(self) -> int:
        return cpu_ticks(self.proc.pid) + sum(cpu_ticks(c) for c in children(self.proc.pid))

    def _log_tail(self) -> str:
        self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


# What production serves with (`-c python:verifier.web.serving`), given as a file:
# gunicorn then runs it alone, and the master imports no module of the verifier
# (a worker of --before must import the verifier of its worktree, not inherit this one).
SERVING_CONFIG = str(ROOT / "verifier" / "web" / "serving.py")


def gunicorn_options(args) -> list[str]:
    """The same for every app: production's config module (or none, plain
    gunicorn: the serving before issue 18), and a worker class if asked."""
    out = ["-c", SERVING_CONFIG] if args.gunicorn_config == "serving" else []
    if args.worker_class:
        out += ["--worker-class", args.worker_class]
        if args.worker_class == "gthread":
            out += ["--threads", str(args.gthreads), "--keep-alive", "5"]
    return out


def describe_serving(args) -> str:
    config = "-c verifier/web/serving.py" if args.gunicorn_config == "serving" else "no config module"
    wc = args.worker_class or "sync"
    if wc == "gthread":
        wc += f" ({args.gthreads} threads, keep-alive 5 s)"
    return f"gunicorn {config}, {args.workers} {wc} workers each"


@contextmanager
def serving(app_dir: Path, target: str, args, ready_path: str):
    log = app_dir / f"gunicorn-{target.split(':')[0]}.log"
    server = Server(app_dir, target, args.workers, log, gunicorn_options(args))
    try:
        server.wait_ready(ready_path)
        yield server
    finally:
        server.stop()


def precheck(server: Server, paths: list[str], marker: bytes) -> None:
    """Every path once, sequentially: 200 and a valid verdict (also warms up)."""
    for p in paths:
        try:
            with urllib.request.urlopen(server.base + p, timeout=10) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        if status != 200 or marker not in body:
            raise BenchError(f"GET {p[:70]}… from gunicorn: {status} {body[:300]!r}")


# -- wrk -------------------------------------------------------------------------

WRK_LUA = r"""-- Rotate over request paths, one a line ("path" or "path<TAB>client").
-- Written by bench_verifier.py. Run: wrk ... -s rotate.lua URL -- PATHS_FILE THREADS
local reqs, n, i = {}, 0, 0
local count = 0

function setup(thread)
  thread:set("id", count)
  count = count + 1
end

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    local path, client = line:match("^([^\t]+)\t?(.*)$")
    local headers = {}
    if client ~= nil and client ~= "" then headers["X-Bench-Client"] = client end
    n = n + 1
    reqs[n] = wrk.format("GET", path, headers)
  end
  f:close()
  i = (id or 0) * math.floor(n / tonumber(args[2] or 1))  -- threads start apart
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  local slow = 0  -- requests slower than SLOW_US µs: latency(k) is the k-th distinct value and its count
  for k = 1, #latency do
    local v, c = latency(k)
    if v > SLOW_US then slow = slow + c end
  end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.1f,"max":%d,"slow":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.mean, latency.max, slow))
end
"""


def write_paths(folder: Path, name: str, paths: list[str], clients: int = 0) -> Path:
    f = folder / f"paths-{name}.txt"
    lines = []
    for k, p in enumerate(paths):
        if clients:
            lines.append(f"{p}\t{client_address(k % clients)}")
        else:
            lines.append(p)
    f.write_text("\n".join(lines) + "\n")
    return f


def run_wrk(
    wrk: str, lua: Path, base: str, paths_file: Path, threads: int, connections: int, seconds: int
) -> dict:
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(lua),
        base,
        "--",
        str(paths_file),
        str(threads),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise BenchError(f"wrk exited with {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise BenchError(f"no summary from wrk's Lua script:\n{proc.stdout}\n{proc.stderr}")
    out = json.loads(line[len("WRKJSON ") :])
    out["non2xx"] = _non2xx(proc.stdout)
    out["wrk_cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    out["rps"] = out["requests"] / (out["duration_us"] / 1e6)
    return out


def _non2xx(text: str) -> int:
    for ln in text.splitlines():
        if "Non-2xx or 3xx responses:" in ln:
            return int(ln.split(":")[1])
    return 0


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait
    except (OSError, ValueError, IndexError):
        return float("nan")


def load(server: Server, wrk: str, lua: Path, paths_file: Path, args) -> dict:
    """A warm-up, then the measured wrk run, with the CPU the server, its
    app, wrk and the rest of the machine used meanwhile, and what the
    workers' probes saw during it (slow requests and their causes, the
    collector's pauses)."""
    run_wrk(wrk, lua, server.base, paths_file, args.threads, args.connections, WARMUP_SECONDS)
    time.sleep(0.5)  # the warm-up's last probe snapshots written
    ticks = os.sysconf("SC_CLK_TCK")
    c0, p0, m0 = server.cpu(), probe_stats(server.app_dir, server.module), machine_busy()
    t0 = time.time()
    out = run_wrk(wrk, lua, server.base, paths_file, args.threads, args.connections, args.duration)
    t1 = time.time()
    m1 = machine_busy()
    out["server_cpu"] = (server.cpu() - c0) / ticks
    time.sleep(0.5)
    p1 = probe_stats(server.app_dir, server.module)
    n = p1["requests"] - p0["requests"]
    out["app_cpu_per_request"] = (p1["cpu"] - p0["cpu"]) / n if n > 0 else float("nan")
    out["gc_n"] = [b - a for a, b in zip(p0["gc_n"], p1["gc_n"], strict=True)]
    out["gc_per_request"] = sum(p1["gc_s"]) - sum(p0["gc_s"])
    out["gc_per_request"] = out["gc_per_request"] / n if n > 0 else float("nan")
    pauses = [x for x in p1["pauses"] if t0 <= x[0] <= t1]
    out["gc_pauses"] = len(pauses)
    out["gc_pause_max"] = max((x[1] for x in pauses), default=0.0)
    slow = [x for x in p1["slow"] if t0 <= x["t"] <= t1]
    out["slow_app"] = {c: sum(1 for x in slow if slow_cause(x) == c) for c in CAUSES}
    seconds = out["duration_us"] / 1e6
    out["others_cores"] = max(0.0, (m1 - m0) - out["server_cpu"] - out["wrk_cpu"]) / seconds
    return out


CONFIGS = (  # key, server, paths file, label
    ("baseline", "baseline", "baseline", "bare Flask route"),
    ("api+limiter", "ours+limiter", "api-clients", "ours: JSON API, limiter on*"),
    ("api", "ours", "api", "ours: JSON API, limiter off"),
    ("api-unbound", "ours-unbound", "api", "ours: JSON API, no digest†"),
    ("landing", "ours", "landing", "ours: landing page /V/…"),
    ("floor", "floor", "floor", "floor: parse+sig+register§"),
)
BEFORE = ("api-before", "before", "api", "before: JSON API‡")
DEFAULT_CONFIGS = "baseline,api+limiter,api,floor"


def configs(args) -> tuple:
    chosen = {"baseline", *args.configs.split(",")}
    return tuple(c for c in CONFIGS if c[0] in chosen) + ((BEFORE,) if args.before else ())


def ed25519_now(n: int = 2000) -> float:
    """Raw Ed25519 verifications a second right now: the machine's speed
    at the time of a round (it varies on a shared VM)."""
    key = Ed25519PrivateKey.generate()
    public, message = key.public_key(), os.urandom(RAW_MESSAGE_BYTES)
    signature = key.sign(message)

    def run() -> int:
        for _ in range(n):
            public.verify(signature, message)
        return n

    return best_rate(run, 3)


READY = {"baseline": "/b/{token}", "floor": "/f/{token}"}  # else the API's OpenAPI document


def bench_http(db: dict, apps_dir: Path, targets: dict[str, str], wrk: str, args) -> list[dict]:
    """The servers up at once (idle but for the one loaded); every
    configuration loaded in each round, the order reversed every other round
    (the machine's speed drifts); each round's table once it is complete,
    with each configuration's rate beside the bare route's of the same round."""
    tokens = db["tokens"]
    lua = apps_dir / "rotate.lua"
    lua.write_text(WRK_LUA.replace("SLOW_US", str(round(SLOW_MS * 1000))))
    api_paths = [f"/api/v1/verify?token={t}" for t in tokens]
    files = {
        "api": write_paths(apps_dir, "api", api_paths),
        "landing": write_paths(apps_dir, "landing", [f"/V/{t}" for t in tokens]),
        "api-clients": write_paths(apps_dir, "api-clients", api_paths, args.clients),
        "baseline": write_paths(apps_dir, "baseline", [f"/b/{t}" for t in tokens]),
        "floor": write_paths(apps_dir, "floor", [f"/f/{t}" for t in tokens]),
    }
    valid_json, valid_page = b'"valid":true', "证书真实有效".encode()
    checks = {  # server: (paths, marker), every token once (the limited one: one client address)
        "baseline": ([f"/b/{t}" for t in tokens], valid_json),
        "ours": (api_paths, valid_json),
        "ours+limiter": (api_paths[:100], valid_json),
        "ours-unbound": (api_paths, valid_json),
        "before": (api_paths, valid_json),
        "floor": ([f"/f/{t}" for t in tokens], valid_json),
    }
    chosen = configs(args)
    rounds: list[dict] = []
    with ExitStack() as stack:
        servers: dict[str, Server] = {}
        for _key, name, _paths, _label in chosen:
            if name not in servers:
                ready = READY.get(name, "/api/v1/openapi.json").format(token=tokens[0])
                servers[name] = stack.enter_context(serving(apps_dir, targets[name], args, ready))
                precheck(servers[name], *checks[name])
        if any(key == "landing" for key, *_ in chosen):
            precheck(servers["ours"], [f"/V/{t}" for t in tokens], valid_page)
        say(
            f"\n== over HTTP: wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
            f"after a {WARMUP_SECONDS} s warm-up; {describe_serving(args)} =="
        )
        for k in range(args.rounds):
            results: dict[str, dict] = {"ed25519": ed25519_now(), "load": os.getloadavg()[0]}
            for key, server, paths, _label in chosen if k % 2 == 0 else chosen[::-1]:
                results[key] = load(servers[server], wrk, lua, files[paths], args)
            rounds.append(results)
            show_round(k, results, args)
    say(
        f"  Latencies in ms, as wrk saw them. ÷ bare: req/s over the bare route's in the same round. >{SLOW_MS:.0f}: "
        f"requests slower than {SLOW_MS:.0f} ms\n"
        f"  as wrk saw them; in app: of those, how many were that slow inside the Flask app, by cause "
        "(the probe):\n"
        "  gc the collector, keys the key set's re-read, sql the register's lookup, limiter its count, "
        "off-cpu the\n  worker waiting for a core, cpu the app's own work; the rest waited outside the "
        "app (the listen queue:\n  the connections beyond the workers, and the time a worker was busy or "
        "off the CPU). full gc:\n  full collections during the run, and the longest pause of any "
        "collection. CPU per request in µs: the server\n  (gunicorn master and workers), of which inside "
        f"the app; others: cores busy with other processes\n  during the run (flagged above {BUSY_CORES}).\n"
        f"  * rate limiter on (memory storage), the requests spread over {args.clients:,} simulated "
        "client addresses\n"
        "  † the register's binding switched off (benchmark only): the token's SHA-256 neither computed "
        "nor compared\n"
        "  § the floor: the token parsed strictly, its signature and the register's lookup with the digest\n"
        '    binding, answering {"valid": …} alone (what any verifier must do; benchmark only)'
        + (
            f"\n  ‡ the verifier at {args.before}, from a git worktree, on the same database"
            if args.before
            else ""
        )
    )
    return rounds


def show_round(k: int, results: dict, args) -> None:
    """One round's table; each configuration's validity and its ratio to the
    bare route of the same round are kept in `results`."""
    say(
        f"  round {k + 1} of {args.rounds} (raw Ed25519 in this process just before: "
        f"{results['ed25519']:,.0f}/s; load average {results['load']:.2f})"
    )
    say(
        f"  {'':<29}{'req/s':>6} {'÷ bare':>6} {'p50':>5} {'p99':>5} {'max':>5} {f'>{SLOW_MS:.0f}':>6}  "
        f"{'in app (causes)':<22} {'full gc':>10}  {'server':>6} {'in app':>6}  {'others':>6}"
    )
    base = results["baseline"]["rps"]
    for key, _server, _paths, label in configs(args):
        r = results[key]
        errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
        r["errors"] = errors
        r["valid"] = r["non2xx"] == 0 and r["status"] == 0 and errors == 0 and r["requests"] > 0
        n = max(r["requests"], 1)
        r["cpu_per_request"] = r["server_cpu"] / n
        r["ratio"] = r["rps"] / base
        causes = ", ".join(f"{c} {v}" for c, v in r["slow_app"].items() if v)
        in_app = f"{sum(r['slow_app'].values())}" + (f" ({causes})" if causes else "")
        longest = f"{r['gc_pause_max'] * 1e3:.0f}" if r["gc_pauses"] else "<5"
        full_gc = f"{r['gc_n'][2]}, {longest} ms"
        say(
            f"  {label:<29}{r['rps']:>6,.0f} {r['ratio']:>6.2f} {r['p50'] / 1e3:>5.1f} {r['p99'] / 1e3:>5.1f} "
            f"{r['max'] / 1e3:>5.0f} {r['slow']:>6,}  {in_app:<22} {full_gc:>10}  "
            f"{r['cpu_per_request'] * 1e6:>6,.0f} {r['app_cpu_per_request'] * 1e6:>6,.0f}  "
            f"{r['others_cores']:>6.2f}"
            + (
                ""
                if r["valid"]
                else f"   NOT VALID: {max(r['non2xx'], r['status'])} non-2xx, {errors} errors"
            )
            + ("   (busy machine)" if r["others_cores"] > BUSY_CORES else "")
        )


def median_run(rounds: list[dict], key: str) -> dict:
    """The round whose req/s is the median (the lower middle for an even count)."""
    runs = sorted((r[key] for r in rounds), key=lambda x: x["rps"])
    return runs[(len(runs) - 1) // 2]


def report_http(rounds: list[dict], rates: dict[str, float] | None, args) -> None:
    n = len(rounds)
    invalid = [(k, i + 1) for i, r in enumerate(rounds) for k, *_ in configs(args) if not r[k]["valid"]]
    busy = sum(1 for r in rounds for k, *_ in configs(args) if r[k]["others_cores"] > BUSY_CORES)
    base = median_run(rounds, "baseline")
    say(
        f"\n== ours ÷ baseline: the median of {n} round{'s' if n > 1 else ''} (range), ratios taken "
        f"round by round =="
    )
    say(
        f"  {'':<28}{'req/s':>7} {'(range)':<15} {'p50':>5} {'p99':>5}  {'req/s ÷ base':<18} "
        f"{'CPU/req ÷ base':<14}"
    )
    for key, _server, _paths, label in configs(args):
        r = median_run(rounds, key)
        rps = [x[key]["rps"] for x in rounds]
        ratios = sorted(x[key]["rps"] / x["baseline"]["rps"] for x in rounds)
        cpu = sorted(x[key]["cpu_per_request"] / x["baseline"]["cpu_per_request"] for x in rounds)
        spread = f"({min(rps):,.0f}–{max(rps):,.0f})"
        say(
            f"  {label.rstrip('*'):<28}{r['rps']:>7,.0f} {spread:<15} "
            f"{r['p50'] / 1e3:>5.1f} {r['p99'] / 1e3:>5.1f}  "
            f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}–{ratios[-1]:.2f})     "
            f"{statistics.median(cpu):.2f} ({cpu[0]:.2f}–{cpu[-1]:.2f})"
        )
    say("  p50/p99 in ms, of the median run.")
    for key, what in (("api-unbound", "without the digest check"), ("api-before", f"at {args.before}")):
        if key in rounds[0] and "api" in rounds[0]:
            ratios = sorted(x["api"]["rps"] / x[key]["rps"] for x in rounds)
            say(
                f"  JSON API req/s ÷ the same {what}, round by round: {statistics.median(ratios):.3f} "
                f"({ratios[0]:.3f}–{ratios[-1]:.3f}); p99 {median_run(rounds, 'api')['p99'] / 1e3:.1f} ms "
                f"against {median_run(rounds, key)['p99'] / 1e3:.1f} ms"
            )
    if rates:
        say(
            f"  in a fresh process, one core, this run: raw Ed25519 {rates['raw']:,.0f}/s; verify_raw "
            f"{rates['verify_raw']:,.0f}/s ({rates['verify_raw'] / rates['raw']:.2f}× raw); the baseline's "
            f"work {rates['bare']:,.0f}/s; test client: API {rates['client_api']:,.0f}/s, landing "
            f"{rates['client_landing']:,.0f}/s, baseline {rates['client_baseline']:,.0f}/s."
        )
    say(f"  The issue's figure for the baseline on this machine: {ISSUE_BASELINE}.")
    if invalid:
        say(f"  NOT VALID (non-2xx or socket errors): {', '.join(f'{k} round {i}' for k, i in invalid)}")
    if busy:
        say(f"  {busy} run(s) flagged: other processes kept more than {BUSY_CORES} of a core busy.")
    say(
        f"\n== against issue 18's target: p99 under {TARGET_P99_MS:.0f} ms in every round and ≥ "
        f"{TARGET_RATIO}× the bare route (req/s, same round), the limiter on =="
    )
    for key, name in (("api+limiter", "limiter on"), ("api", "limiter off")):
        if key not in rounds[0]:
            continue
        runs = [x[key] for x in rounds]
        each = "; ".join(f"{r['ratio']:.2f}×, p99 {r['p99'] / 1e3:.1f} ms" for r in runs)
        met = sum(1 for r in runs if _meets(r))
        say(f"  JSON API, {name}: {met} of {n} rounds meet both ({each})")
        slow = sum(r["slow"] for r in runs)
        total = sum(r["requests"] for r in runs)
        causes = {c: sum(r["slow_app"][c] for r in runs) for c in CAUSES}
        in_app = sum(causes.values())
        say(
            f"    slower than {SLOW_MS:.0f} ms: {slow:,} of {total:,} requests ({slow / max(total, 1):.2%}), of which "
            f"{in_app:,} that slow inside the app ("
            + (", ".join(f"{c} {v}" for c, v in causes.items() if v) or "none")
            + f"); full collections {sum(r['gc_n'][2] for r in runs)}, the longest collector pause "
            + (
                f"{longest * 1e3:.0f} ms"
                if (longest := max(r["gc_pause_max"] for r in runs))
                else "under 5 ms"
            )
            + "; the collector "
            + f"{statistics.median(r['gc_per_request'] for r in runs) * 1e6:.1f} µs a request"
        )
    if "floor" in rounds[0]:
        floor = sorted(x["floor"]["ratio"] for x in rounds)
        say(
            f"  The floor (§: strict parse, signature, register with its digest, nothing else): "
            f"{statistics.median(floor):.2f}× the bare route ({floor[0]:.2f}–{floor[-1]:.2f}), the "
            f"ceiling of any verifier of ours on this stack"
        )
        for key, name in (("api+limiter", "limiter on"), ("api", "limiter off")):
            if key in rounds[0]:
                of_floor = sorted(x[key]["rps"] / x["floor"]["rps"] for x in rounds)
                say(
                    f"    JSON API, {name}: {statistics.median(of_floor):.2f}× the floor "
                    f"({of_floor[0]:.2f}–{of_floor[-1]:.2f}), round by round"
                )
    if "api" not in rounds[0]:
        return
    api = median_run(rounds, "api")
    cores = os.cpu_count() or 1
    seconds = api["duration_us"] / 1e6
    per, base_per = api["cpu_per_request"], base["cpu_per_request"]
    say(
        f"  {cores} cores shared: during the median API run (limiter off) the server used "
        f"{api['server_cpu'] / seconds:.2f} cores, wrk {api['wrk_cpu'] / seconds:.2f}, other processes "
        f"{api['others_cores']:.2f}."
    )
    say(
        f"  At {per * 1e6:,.0f} µs of server CPU a request ({api['app_cpu_per_request'] * 1e6:,.0f} inside "
        f"the Flask app), {cores} whole cores would serve at most {cores / per:,.0f} req/s; the baseline's "
        f"{base_per * 1e6:,.0f} µs ({base['app_cpu_per_request'] * 1e6:,.0f} in the app), "
        f"{cores / base_per:,.0f} req/s."
    )


def _meets(r: dict) -> bool:
    return r["valid"] and r["ratio"] >= TARGET_RATIO and r["p99"] / 1e3 < TARGET_P99_MS


# -- main ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", type=int, default=1_000, help="teachers issued: one token each")
    ap.add_argument("--records-per-teacher", type=float, default=10)
    ap.add_argument("--duration", type=int, default=15, help="seconds of each wrk run (after a warm-up)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers of each server")
    ap.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help="what to load, comma-separated, the bare route always: "
        + ", ".join(c[0] for c in CONFIGS)
        + f" (default {DEFAULT_CONFIGS})",
    )
    ap.add_argument(
        "--gunicorn-config",
        choices=("serving", "none"),
        default="serving",
        help="serve with production's gunicorn config module (verifier/web/serving.py), "
        "or none: plain gunicorn, as before issue 18",
    )
    ap.add_argument(
        "--worker-class", choices=("sync", "gthread"), default=None, help="override the config's (sync)"
    )
    ap.add_argument("--gthreads", type=int, default=4, help="threads of each gthread worker")
    ap.add_argument(
        "--clients",
        type=int,
        default=1_000,
        help="simulated client addresses for the run with the rate limiter on",
    )
    ap.add_argument(
        "--rounds", type=int, default=5, help="rounds of the HTTP runs (each round: every configuration)"
    )
    ap.add_argument("--runs", type=int, default=3, help="runs of each in-process loop (best is reported)")
    ap.add_argument(
        "--no-in-process", action="store_true", help="skip the in-process rates (HTTP rounds only)"
    )
    ap.add_argument(
        "--profile", action="store_true", help="also cProfile the JSON API through the Flask test client"
    )
    ap.add_argument(
        "--before",
        metavar="REF",
        default=None,
        help="also serve the verifier at this git commit (a worktree) on the same database",
    )
    args = ap.parse_args(argv)
    unknown = set(args.configs.split(",")) - {c[0] for c in CONFIGS}
    if unknown:
        ap.error(f"--configs: unknown {', '.join(sorted(unknown))}")
    wrk = shutil.which("wrk")
    say(
        f"bench_verifier {date.today().isoformat()}  Python {platform.python_version()}  "
        f"Flask {_version('flask')}  "
        f"gunicorn {_version('gunicorn')}  SQLAlchemy {sqlalchemy.__version__}  SQLite {sqlite3.sqlite_version}  "
        f"{platform.machine()} {cpu_name()} ×{os.cpu_count()}  {_wrk_version(wrk)}"
    )
    if wrk is None:
        say(f"\n{WRK_INSTALL}")
        return 0
    os.environ[PASSPHRASE_ENV] = PASSPHRASE
    os.environ.setdefault("ECERT_RATELIMIT_STORAGE", "memory://")
    profile = load_profile(PROFILE_ID)
    with tempfile.TemporaryDirectory(prefix="ecert-bench-verifier-") as tmp:
        say(f"\n== {args.teachers:,} teachers: a fresh SQLite file, imported and issued ==")
        db = prepare(Path(tmp) / "data", args.teachers, args.records_per_teacher, profile)
        tokens = db["tokens"]
        say(
            f"  {len(tokens):,} tokens of {len(tokens[0])} base32 characters "
            f"({len(from_base32(tokens[0]))} bytes); each HTTP run rotates over all of them"
        )
        apps_dir = Path(tmp) / "apps"
        with checkout(args.before, Path(tmp)) as before:
            targets = write_apps(apps_dir, db, before)
            inproc = {} if args.no_in_process else in_fresh_process(db, apps_dir, args.runs, args.profile)
            rates = inproc.get("rates")
            if rates:
                report_in_process(rates, len(tokens))
            rounds = bench_http(db, apps_dir, targets, wrk, args)
        report_http(rounds, rates, args)
        for what, text in inproc.get("profile", []):
            say(f"\n== cProfile of {what}, through the Flask test client in the fresh process: {text}")
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def _wrk_version(wrk: str | None) -> str:
    if wrk is None:
        return "wrk: not installed"
    try:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0].split(" [")[0] if text else "wrk ?"
    except (OSError, subprocess.SubprocessError):
        return "wrk ?"


if __name__ == "__main__":
    run_main(main, "bench_verifier")
