#!/usr/bin/env python3
"""Speed of issuance and of verification, on SQLite, no PDFs.

    .venv/bin/python benchmarks/bench_issue.py [--teachers 10000]
        [--records-per-teacher 30] [--small 2500] [--tokens 2000] [--runs 3]
        [--workers 2]

Generates the sample files (scripts/make_sample.py, deterministic) into a
temporary folder and imports them into a fresh SQLite file exactly as
bench_ledger.py does (migrate; projects, roster with registration, records,
each in its own write_session), then creates a signing key. Then, in a fresh
process, as `ecert issue` runs in its own (so that the imports' heap does not
hide what issuance uses):

  - the first issuance run: every teacher issued, over --workers processes
    (fanout.run, as `ecert issue` runs it; chunks of 500);
  - the same in one process (Issuer.run) on a copy of the database made
    before it, and raw Ed25519 signatures as many as teachers as the
    yardstick (issue 18: at most 25× their time, and under 10 s);
  - the second run over the same data: every teacher unchanged (the
    idempotent path);
  - a baseline: every credit sheet through ledger.all_sheets, which is what
    issuance must at least do, over the same database.

Each with wall and CPU time, the resident set's growth during the step
(/proc/self/statm before, then sampled after each chunk) and its peak (on
Linux VmHWM, reset before each step; else getrusage, the process's so far).
The issue's target: 10,000 teachers end to end in under 20 s; printed both
for import + issue and for issue alone. With --small, the same is done for a
smaller roster in its own database, to show the issuing process's memory
does not grow with the number of teachers.

Then verification in this process, over --tokens issued certificates of the
large database, beside raw Ed25519 verifications of a 300-byte message
measured in the same run (the target: at least a third of the raw rate):
Verifier.verify_raw with the online status source (one SQLite query per
token), with an in-memory status source (the token work alone), and
Verifier.verify_input on the verification URL; then, each alone, parse,
parse + the COSE signature check, and the status lookup.

Prints figures only: it never fails on speed. It exits non-zero only on a
real error (an import refused, a run that does not issue or leave unchanged
every teacher, a token that does not verify, a database error).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import select  # noqa: E402

from benchmarks.common import BenchError, best_rate, cpu_name, run_main, say, timed  # noqa: E402
from issuer.certificates import fanout  # noqa: E402
from issuer.certificates.issuance import CHUNK, IssueOptions, Issuer  # noqa: E402
from issuer.certificates.keystore import PASSPHRASE_ENV, Keystore  # noqa: E402
from issuer.db import make_engine, migrate, read_session, write_session  # noqa: E402
from issuer.ledger.credits.ledger import all_sheets  # noqa: E402
from issuer.ledger.importing.projects import import_projects  # noqa: E402
from issuer.ledger.importing.records import import_records  # noqa: E402
from issuer.ledger.importing.roster import import_roster  # noqa: E402
from issuer.models import Certificate  # noqa: E402
from scripts.make_sample import generate  # noqa: E402
from verifier.clock import today_in_china  # noqa: E402
from verifier.keyset import KeySet  # noqa: E402
from verifier.profiles import load_profile  # noqa: E402
from verifier.qr import verification_url  # noqa: E402
from verifier.status import DatabaseStatus, NumberStatus, VersionState  # noqa: E402
from verifier.token import from_base32, parse, token_digest, verify_signature  # noqa: E402
from verifier.verify import Verifier  # noqa: E402

PROFILE_ID = "horgos-7"
AS_OF = date(2026, 11, 23)  # the credit sheets' date, fixed so that runs compare
BASE_URL = "HTTP://127.0.0.1:5000"
ACTOR = "bench"
PASSPHRASE = "bench-only-throwaway-passphrase"  # a temp key in a temp folder
TARGET_ISSUE_SECONDS = 10.0  # issue 18: 10,000 teachers issued in under 10 s
TARGET_RAW_RATIO = 25.0  # and at most 25× the time of as many raw Ed25519 signatures
TARGET_VERIFY_RATIO = 1 / 3
RAW_MESSAGE_BYTES = 300


def peak_rss_mb() -> float:
    """The process's high-water RSS. On Linux VmHWM, its own: ru_maxrss of a
    spawned child also counts the parent it was forked from before exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def reset_peak() -> bool:
    """Start VmHWM again from the current RSS (Linux ≥ 4.0), so that the
    next peak is one step's own; False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def current_rss_mb() -> float:
    try:  # Linux; elsewhere the growth figures stay empty
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


class RssProbe:
    """The resident set's growth over a step: read before, then sampled
    whenever the step reports progress (issuance: after each chunk)."""

    def __init__(self) -> None:
        self.before = self.high = current_rss_mb()

    def sample(self, _n: int = 0) -> None:
        self.high = max(self.high, current_rss_mb())

    @property
    def growth(self) -> float:
        self.sample()
        return self.high - self.before


# -- data and database -----------------------------------------------------


def prepare(folder: Path, teachers: int, per_teacher: float, profile) -> dict:
    """Sample files, a fresh SQLite database with them imported, and an
    active signing key; every step's time."""
    counts, gen_s = timed(
        lambda: generate(folder / "files", teachers=teachers, records_per_teacher=per_teacher)
    )
    say(
        f"  generated {counts['roster.csv']:,} teachers, {counts['projects.csv']:,} projects, "
        f"{counts['records.csv']:,} records in {gen_s:.2f} s (not counted below)"
    )
    files = {k: folder / "files" / f"{k}.csv" for k in ("projects", "roster", "records")}
    url, keys_dir = f"sqlite:///{folder / 'bench.sqlite3'}", folder / "keys"
    engine = make_engine(url)
    steps = [
        ("migrate", 0, lambda: migrate(engine)),
        (
            "projects import",
            counts["projects.csv"],
            _importer(engine, lambda s: import_projects(s, files["projects"]), counts["projects.csv"]),
        ),
        (
            "roster import+register",
            counts["roster.csv"],
            _importer(engine, lambda s: import_roster(s, files["roster"], profile), counts["roster.csv"]),
        ),
        (
            "records import",
            counts["records.csv"],
            _importer(engine, lambda s: import_records(s, files["records"]), counts["records.csv"]),
        ),
        ("signing key", 0, lambda: _create_key(engine, keys_dir, profile)),
    ]
    total = 0.0
    try:
        for name, rows, work in steps:
            _, s = timed(work)
            total += s
            say(f"  {name:<27}{s:8.2f} s  " + (f"{rows / s:>9,.0f} rows/s" if rows else ""))
    finally:
        engine.dispose()
    say(f"  {'= import total':<27}{total:8.2f} s  (peak RSS so far {peak_rss_mb():.0f} MB)")
    return {
        "url": url,
        "keys_dir": str(keys_dir),
        "teachers": counts["roster.csv"],
        "records": counts["records.csv"],
        "import_seconds": total,
    }


def _importer(engine, work: Callable, rows: int) -> Callable[[], None]:
    """One import in its own write transaction, as the `ecert ... import`
    commands run it; anything short of every row created is an error."""

    def run() -> None:
        with write_session(engine) as session:
            result = work(session)
        if result.created != rows:
            raise BenchError(f"{result.summary()}: {result.created:,} of {rows:,} rows created")

    return run


def _create_key(engine, keys_dir: Path, profile) -> None:
    with write_session(engine) as session:
        Keystore(keys_dir, actor=ACTOR).create(session, profile.issuer_code)


# -- issuance, in a fresh process --------------------------------------------


def issue_in_fresh_process(db: dict, workers: int) -> dict:
    """_issue_steps in a new interpreter (spawn), as `ecert issue` runs;
    the one-process run on a copy of the database made before it."""
    serial_url = _copy_database(db["url"])
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        out = pool.submit(_issue_steps, db["url"], serial_url, db["keys_dir"], workers).result()
    n = db["teachers"]
    second = out["second"]["summary"]
    for name in ("first", "serial"):
        if out[name]["summary"] != {"issued": n, "reissued": 0, "unchanged": 0, "refused": 0}:
            raise BenchError(f"{name} issuance of {n:,} teachers: {out[name]['summary']}")
    if second != {"issued": 0, "reissued": 0, "unchanged": n, "refused": 0}:
        raise BenchError(f"second issuance of {n:,} teachers (should be all unchanged): {second}")
    if out["baseline"]["sheets"] != n:
        raise BenchError(f"all_sheets gave {out['baseline']['sheets']:,} sheets for {n:,} teachers")
    return out


def _copy_database(url: str) -> str:
    """A copy of the SQLite file (the backup API: whole, WAL included)."""
    path = Path(url.removeprefix("sqlite:///"))
    copy = path.with_name("serial-" + path.name)
    with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return f"sqlite:///{copy}"


def _issue_steps(url: str, serial_url: str, keys_dir: str, workers: int) -> dict:
    """The child: issue over `workers` processes as `ecert issue` does, the
    same in one process on the copy, issue again (all unchanged),
    all_sheets, and raw Ed25519 signatures as the yardstick; plain dicts back."""
    os.environ[PASSPHRASE_ENV] = PASSPHRASE
    profile = load_profile(PROFILE_ID)
    engine, serial_engine = make_engine(url), make_engine(serial_url)
    try:
        keystore = Keystore(Path(keys_dir), actor=ACTOR)
        issuer = Issuer(engine, profile, keystore, BASE_URL, ACTOR)
        serial = Issuer(serial_engine, profile, keystore, BASE_URL, ACTOR)
        options = IssueOptions(as_of=AS_OF)
        out: dict = {}
        out["first"] = _measured(
            lambda probe: _summary(fanout.run(issuer, options, progress=probe.sample, workers=workers))
        )
        out["serial"] = _measured(lambda probe: _summary(serial.run(options, progress=probe.sample)))
        out["second"] = _measured(
            lambda probe: _summary(fanout.run(issuer, options, progress=probe.sample, workers=workers))
        )
        out["baseline"] = _measured(lambda probe: {"sheets": _count_sheets(engine, profile, probe)})
        out["raw_sign"] = _raw_signing(_teachers(engine))
        out["workers"] = workers
        return out
    finally:
        engine.dispose()
        serial_engine.dispose()


def _teachers(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(sqlalchemy.func.count()).select_from(Certificate)) or 0


def _raw_signing(n: int) -> float:
    """Seconds for n Ed25519 signatures of a 300-byte message: the yardstick
    of issue 18's "≤ 25× raw signing" (best of three)."""
    key, message = Ed25519PrivateKey.generate(), os.urandom(RAW_MESSAGE_BYTES)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            key.sign(message)
        best = min(best, time.perf_counter() - t0)
    return best


def _measured(step: Callable[[RssProbe], dict]) -> dict:
    """A step's wall and CPU time, RSS growth and peak (the step's own peak
    where VmHWM can be reset, else the process's so far)."""
    gc.collect()
    own_peak = reset_peak()
    probe = RssProbe()
    c0, t0 = time.process_time(), time.perf_counter()
    result = step(probe)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        **result,
        "seconds": seconds,
        "cpu": cpu,
        "before": probe.before,
        "growth": probe.growth,
        "peak": peak_rss_mb(),
        "own_peak": own_peak,
    }


def _summary(s) -> dict:
    return {
        "summary": {
            "issued": s.issued,
            "reissued": s.reissued,
            "unchanged": s.unchanged,
            "refused": len(s.refused),
        }
    }


def _count_sheets(engine, profile, probe: RssProbe) -> int:
    n = 0
    with read_session(engine) as session:
        for _holder, _sheet in all_sheets(session, profile, as_of=AS_OF):
            n += 1
            if n % CHUNK == 0:
                probe.sample()
    return n


def report_issuance(db: dict, out: dict) -> None:
    n = db["teachers"]
    peak = "the step's own peak" if out["first"]["own_peak"] else "peak so far"
    say(
        f"  {'':<27}{'wall':>10} {'teachers/s':>10}  {'CPU':>7}   RSS before → +growth after "
        f"the chunks, {peak}"
    )
    rows = (
        (f"first run, {out['workers']} workers", out["first"]),
        ("first run, one process", out["serial"]),
        ("second run (all unchanged)", out["second"]),
        ("baseline: all_sheets", out["baseline"]),
    )
    for name, f in rows:
        say(
            f"  {name:<27}{f['seconds']:8.2f} s {n / f['seconds']:>10,.0f}  {f['cpu']:5.2f} s   "
            f"{f['before']:.0f} MB → +{f['growth']:.0f} MB, peak {f['peak']:.0f} MB"
        )
    raw = out["raw_sign"]
    say(
        f"  {'yardstick: raw Ed25519 signs':<27}{raw:8.2f} s {n / raw:>10,.0f}   ({n:,} signatures of "
        f"{RAW_MESSAGE_BYTES} bytes, best of 3)"
    )
    for name, key in ((f"{out['workers']} workers", "first"), ("one process", "serial")):
        secs = out[key]["seconds"]
        say(
            f"  first run, {name:<16}{secs / raw:6.1f}× raw signing (target ≤ {TARGET_RAW_RATIO:.0f}×: "
            f"{secs / raw / TARGET_RAW_RATIO:.2f}× the target); {secs:.2f} s (target < "
            f"{TARGET_ISSUE_SECONDS:.0f} s)"
        )
    first, base = out["first"]["seconds"], out["baseline"]["seconds"]
    say(
        f"  {'':<27}first run − all_sheets ≈ {first - base:.2f} s ({(first - base) / n * 1e6:,.0f} µs "
        f"a teacher: claims, signing, QR size, inserts, audit); first run = {first / base:.2f}× all_sheets"
    )


# -- verification ----------------------------------------------------------


class MemoryStatus:
    """Every number current at version 1 with its token's digest, from a
    dict: the token work alone."""

    description = "memory"

    def __init__(self, numbers: list[str], tokens: list[str]) -> None:
        self._by_number = {
            n: NumberStatus(n, (VersionState("current", digest=token_digest(from_base32(t))),))
            for n, t in zip(numbers, tokens, strict=True)
        }

    def lookup(self, number: str, version: int | None = None) -> NumberStatus | None:
        return self._by_number.get(number)


def raw_ed25519(n: int) -> Callable[[], int]:
    key = Ed25519PrivateKey.generate()
    public, message = key.public_key(), os.urandom(RAW_MESSAGE_BYTES)
    signature = key.sign(message)

    def run() -> int:
        for _ in range(n):
            public.verify(signature, message)  # raises on a bad signature
        return n

    return run


def verify_all(verify: Callable[[str], object], tokens: list[str]) -> Callable[[], int]:
    def run() -> int:
        for t in tokens:
            result = verify(t)
            if not result.valid:
                raise BenchError(f"an issued token does not verify: {result.first_failure}")
        return len(tokens)

    return run


def bench_verify(db: dict, n_tokens: int, runs: int) -> dict[str, float]:
    """Verifications per second: raw Ed25519, then ours, on issued tokens."""
    engine = make_engine(db["url"])
    try:
        with read_session(engine) as session:
            rows = session.execute(
                select(Certificate.number, Certificate.token)
                .where(Certificate.state == "current")
                .order_by(Certificate.number)
                .limit(n_tokens)
            ).all()
        numbers, tokens = [r.number for r in rows], [r.token for r in rows]
        keys = KeySet.from_database(engine)
        online, memory = Verifier(keys, DatabaseStatus(engine)), Verifier(keys, MemoryStatus(numbers, tokens))
        at = max(AS_OF, today_in_china())  # not before the tokens' issue date
        raws = [from_base32(t) for t in tokens]
        say(f"\n== verification: {len(tokens):,} issued tokens, best of {runs} runs, at {at} ==")
        say(
            f"  a token: {len(tokens[0])} base32 characters, {len(raws[0])} bytes; the URL "
            f"{len(verification_url(BASE_URL, tokens[0]))} characters"
        )
        rates = {
            "raw": best_rate(raw_ed25519(len(tokens)), runs),
            "online": best_rate(verify_all(lambda t: online.verify_raw(from_base32(t), at), tokens), runs),
            "memory": best_rate(verify_all(lambda t: memory.verify_raw(from_base32(t), at), tokens), runs),
            "url": best_rate(
                verify_all(lambda t: online.verify_input(verification_url(BASE_URL, t), at), tokens), runs
            ),
            "parse": best_rate(lambda: sum(1 for r in raws if parse(r)), runs),
            "parse+signature": best_rate(lambda: sum(1 for r in raws if _signature_ok(parse(r), keys)), runs),
            "status": best_rate(lambda: sum(1 for n in numbers if online.status.lookup(n)), runs),
        }
    finally:
        engine.dispose()
    report_verify(rates)
    return rates


def _signature_ok(token, keys: KeySet) -> bool:
    if not verify_signature(token, keys.get(token.kid).verifying_key):
        raise BenchError(f"the signature of {token.claims.number} does not verify")
    return True


def report_verify(r: dict[str, float]) -> None:
    raw = r["raw"]
    lines = (
        ("raw Ed25519 verify", "raw", f"{RAW_MESSAGE_BYTES}-byte message, cryptography"),
        ("verify_raw, online status", "online", "DatabaseStatus: one SQLite query a token"),
        ("verify_raw, in-memory status", "memory", "the token work alone"),
        ("verify_input(URL), online", "url", "URL → token, then as verify_raw"),
    )
    for name, key, note in lines:
        target = (
            ""
            if key == "raw"
            else (
                f"  target ≥ {TARGET_VERIFY_RATIO:.2f}× → "
                f"{r[key] / raw / TARGET_VERIFY_RATIO:.2f}× the target"
            )
        )
        say(f"  {name:<30}{r[key]:>9,.0f} /s  {r[key] / raw:5.2f}× raw{target}   ({note})")
    say("  breakdown, each alone:")
    for name, key in (
        ("parse (CBOR, claims checks)", "parse"),
        ("parse + signature (cwt)", "parse+signature"),
        ("status lookup (DatabaseStatus)", "status"),
    ):
        say(f"    {name:<28}{r[key]:>9,.0f} /s  {1e6 / r[key]:6.0f} µs each")
    say(f"    {'raw Ed25519 verify':<28}{raw:>9,.0f} /s  {1e6 / raw:6.0f} µs each")


# -- main ------------------------------------------------------------------


def bench_size(folder: Path, teachers: int, per_teacher: float, profile, workers: int) -> tuple[dict, dict]:
    say(f"\n== {teachers:,} teachers: import into a fresh SQLite file ==")
    db = prepare(folder, teachers, per_teacher, profile)
    say(f"== {teachers:,} teachers: issuance, in a fresh process (as `ecert issue`) ==")
    out = issue_in_fresh_process(db, workers)
    report_issuance(db, out)
    return db, out


def report_memory(sizes: list[tuple[dict, dict]]) -> None:
    say("\n== memory of the issuing process (first run) against the number of teachers ==")
    for db, out in sizes:
        f = out["first"]
        say(
            f"  {db['teachers']:>7,} teachers: RSS {f['before']:.0f} MB before, +{f['growth']:.0f} MB "
            f"after the chunks, peak {f['peak']:.0f} MB (+{f['peak'] - f['before']:.0f} MB)"
        )
    if len(sizes) == 2:
        (large, big), (small, little) = ((db, out["first"]) for db, out in sizes)
        say(
            f"  {large['teachers'] / small['teachers']:.0f}× the teachers: growth after the chunks "
            f"{big['growth'] - little['growth']:+.0f} MB, peak {big['peak'] - little['peak']:+.0f} MB"
        )


def report_targets(db: dict, out: dict, rates: dict[str, float]) -> None:
    issue = out["first"]["seconds"]
    e2e = db["import_seconds"] + issue
    say(f"\n== against the targets ({db['teachers']:,} teachers, {db['records']:,} records) ==")
    for name, secs in (("issuance end to end (import + issue)", e2e), ("issuance alone (first run)", issue)):
        say(
            f"  {name:<40}{secs:8.2f} s   target < {TARGET_ISSUE_SECONDS:.0f} s: "
            f"{secs / TARGET_ISSUE_SECONDS:.2f}× the target"
        )
    for name, key in (
        ("verify/s, online status ÷ raw Ed25519", "online"),
        ("verify/s, in-memory status ÷ raw Ed25519", "memory"),
    ):
        ratio = rates[key] / rates["raw"]
        say(
            f"  {name:<40}{ratio:8.2f}     target ≥ {TARGET_VERIFY_RATIO:.2f}: "
            f"{ratio / TARGET_VERIFY_RATIO:.2f}× the target"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", type=int, default=10_000)
    ap.add_argument("--records-per-teacher", type=float, default=30)
    ap.add_argument(
        "--small",
        type=int,
        default=2_500,
        help="also issue for this many teachers in their own database, to compare memory (0: skip)",
    )
    ap.add_argument("--tokens", type=int, default=2_000, help="issued tokens to verify")
    ap.add_argument(
        "--workers", type=int, default=2, help="processes of the first run (ecert issue --workers)"
    )
    ap.add_argument("--runs", type=int, default=3, help="runs of each verification loop (best is reported)")
    args = ap.parse_args(argv)
    os.environ[PASSPHRASE_ENV] = PASSPHRASE
    say(
        f"bench_issue {date.today().isoformat()}  Python {platform.python_version()}  "
        f"SQLAlchemy {sqlalchemy.__version__}  SQLite {sqlite3.sqlite_version}  "
        f"{platform.machine()} {cpu_name()} ×{os.cpu_count()}"
    )
    profile = load_profile(PROFILE_ID)
    with tempfile.TemporaryDirectory(prefix="ecert-bench-") as tmp:
        sizes = [
            bench_size(Path(tmp) / "large", args.teachers, args.records_per_teacher, profile, args.workers)
        ]
        rates = bench_verify(sizes[0][0], args.tokens, args.runs)
        if 0 < args.small < args.teachers:
            sizes.append(
                bench_size(Path(tmp) / "small", args.small, args.records_per_teacher, profile, args.workers)
            )
    report_memory(sizes)
    report_targets(*sizes[0], rates)
    say(
        f"\npeak RSS of this process {peak_rss_mb():.0f} MB (imports and verification; "
        "the issuing processes' own are above)"
    )
    return 0


if __name__ == "__main__":
    run_main(main, "bench_issue")
