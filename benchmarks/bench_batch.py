#!/usr/bin/env python3
"""Batch verification against one call a certificate: a review round's 500
applicants through POST /api/v1/verify/batch, beside the same 500 tokens
sent one by one to GET /api/v1/verify, in the same run.

    .venv/bin/python benchmarks/bench_batch.py [--teachers 500] [--items 500]
        [--runs 3] [--workers 1] [--no-http]

Generates the sample files and issues every teacher's certificate into a
fresh SQLite file exactly as bench_verifier.py does (its `prepare`); the
issued tokens are the items (cycled if there are fewer teachers than
items). Then, each the best of --runs:

  - in process, through the Flask test client (the whole Flask stack, no
    server): N GET /api/v1/verify?token=… one after another, and one POST
    /api/v1/verify/batch with the N tokens;
  - over HTTP, the verifier alone under gunicorn (--workers sync workers on
    loopback, as bench_verifier.py serves it): the same N GETs from one
    client in sequence (a committee's script calling the single API in a
    loop, a new connection a request as gunicorn's sync workers close it),
    and the one batch request.

Every answer is checked (each GET valid, the batch's summary N valid), so a
run that measured errors is an error. The rate limiter is off in both (the
API's 600 a minute would refuse a second run): its cost per item is the
same either way. Prints figures only: time per item, items per second, and
the batch ÷ singles ratio; it exits non-zero only on a real error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_verifier import (  # noqa: E402
    OURS_MODULE,
    PASSPHRASE,
    PROFILE_ID,
    _version,
    prepare,
    serving,
)
from benchmarks.common import BenchError, cpu_name, run_main, say  # noqa: E402
from issuer.certificates.keystore import PASSPHRASE_ENV  # noqa: E402
from verifier.profiles import load_profile  # noqa: E402

AT = "2027-06-01"  # a review day within every token's validity


def best(work: Callable[[], None], runs: int) -> float:
    """Seconds of the fastest of `runs` runs of work()."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return min(times)


def _check_batch(status: int, body: bytes, n: int) -> None:
    if status != 200:
        raise BenchError(f"batch answered {status}: {body[:300]!r}")
    summary = json.loads(body)["summary"]
    if summary["valid"] != n:
        raise BenchError(f"batch of {n}: {summary}")


def in_process(db_url: str, items: list[str], runs: int) -> tuple[float, float]:
    from verifier.web import create_app

    app = create_app(db_url, RATELIMIT_ENABLED=False)
    c = app.test_client()
    body = {"items": [{"token": t} for t in items], "at": AT}

    def singles() -> None:
        for t in items:
            r = c.get(f"/api/v1/verify?token={t}&at={AT}")
            if r.status_code != 200 or not r.json["valid"]:
                raise BenchError(f"single GET answered {r.status_code}: {r.data[:300]!r}")

    def batch() -> None:
        r = c.post("/api/v1/verify/batch", json=body)
        _check_batch(r.status_code, r.data, len(items))

    singles(), batch()  # warm up: keys read, connections open, code paths taken
    try:
        return best(singles, runs), best(batch, runs)
    finally:
        app.extensions["ecert_verifier"].close()


def over_http(db_url: str, items: list[str], runs: int, workers: int, folder: Path) -> tuple[float, float]:
    folder.mkdir(parents=True, exist_ok=True)
    module = OURS_MODULE.format(root=str(ROOT), url=db_url, config=", RATELIMIT_ENABLED=False")
    (folder / "bench_batch_app.py").write_text(module)
    payload = json.dumps({"items": [{"token": t} for t in items], "at": AT}).encode()
    with serving(folder, "bench_batch_app:app", workers, "/api/v1/openapi.json") as server:

        def request(method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                return r.status, r.read()
            finally:
                conn.close()

        def singles() -> None:
            for t in items:
                status, data = request("GET", f"/api/v1/verify?token={t}&at={AT}")
                if status != 200 or b'"valid":true' not in data[:20]:
                    raise BenchError(f"single GET answered {status}: {data[:300]!r}")

        def batch() -> None:
            status, data = request("POST", "/api/v1/verify/batch", payload)
            _check_batch(status, data, len(items))

        singles(), batch()
        return best(singles, runs), best(batch, runs)


def report(where: str, n: int, singles: float, batch: float) -> None:
    say(
        f"  {where}:\n"
        f"    {n} single GETs   {singles:7.3f} s   {singles / n * 1e3:7.3f} ms an item   {n / singles:8,.0f} items/s\n"
        f"    one batch of {n}  {batch:7.3f} s   {batch / n * 1e3:7.3f} ms an item   {n / batch:8,.0f} items/s\n"
        f"    batch ÷ singles, time per item: {batch / singles:.2f}× ({singles / batch:.1f} times as fast)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", type=int, default=500, help="teachers issued: one token each")
    ap.add_argument("--records-per-teacher", type=float, default=10)
    ap.add_argument("--items", type=int, default=500, help="items in the batch (at most 500)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each (the best is reported)")
    ap.add_argument("--workers", type=int, default=1, help="gunicorn sync workers")
    ap.add_argument("--no-http", action="store_true", help="in process only (no gunicorn)")
    args = ap.parse_args(argv)
    if not 1 <= args.items <= 500:
        ap.error("--items must be 1 to 500 (the API's limit)")
    say(
        f"bench_batch {date.today().isoformat()}  Python {platform.python_version()}  "
        f"Flask {_version('flask')}  gunicorn {_version('gunicorn')}  "
        f"{platform.machine()} {cpu_name()} ×{os.cpu_count()}"
    )
    os.environ[PASSPHRASE_ENV] = PASSPHRASE
    os.environ.setdefault("ECERT_RATELIMIT_STORAGE", "memory://")
    profile = load_profile(PROFILE_ID)
    with tempfile.TemporaryDirectory(prefix="ecert-bench-batch-") as tmp:
        say(f"\n== {args.teachers:,} teachers: a fresh SQLite file, imported and issued ==")
        db = prepare(Path(tmp) / "data", args.teachers, args.records_per_teacher, profile)
        tokens = db["tokens"]
        items = [tokens[i % len(tokens)] for i in range(args.items)]
        url = f"sqlite:///{db['db_path']}"
        say(f"\n== {args.items} items, each verified as of {AT}; best of {args.runs} ==")
        report("in process (Flask test client)", args.items, *in_process(url, items, args.runs))
        if not args.no_http:
            report(
                f"over HTTP (gunicorn, {args.workers} sync worker{'s' if args.workers > 1 else ''}, loopback)",
                args.items,
                *over_http(url, items, args.runs, args.workers, Path(tmp) / "apps"),
            )
    return 0


if __name__ == "__main__":
    run_main(main, "bench_batch")
