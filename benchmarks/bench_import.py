#!/usr/bin/env python3
"""Speed and memory of the records import (issue 18: 300k rows in under
10 s and under 250 MB peak), on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/bench_import.py [--teachers 10000]
        [--records-per-teacher 30] [--backends sqlite,postgresql] [--against REV]

Generates the sample files (scripts/make_sample.py, deterministic) into a
temporary folder, then for each backend, in a fresh database (SQLite: a
temp file; PostgreSQL: a fresh schema at ECERT_TEST_POSTGRES or
postgresql+psycopg://postgres@127.0.0.1:5432/test, dropped at the end),
migrates it and imports the projects and the roster; then runs, each in a
child process of its own so that its peak RSS (VmHWM) is the import's
and nothing else's:

  - records import: the file into an empty ledger, in one write_session
    transaction, as `ecert records import` runs it;
  - records re-import: the same file again (every row compared, all unchanged);
  - records refused: the same file with its last row bad (a completion
    date that is no date), into the ledger the import filled: every row
    read, checked and compared before the refusal; the child checks that
    the ledger holds what it held.

Each child first times a baseline on the same file in the same process:
csv.reader over it, counting rows, the best of three (the floor of any
import that reads every row). The machine may be shared and its speed vary
from minute to minute, so each figure is also given as a ratio to the
baseline measured just before it: compare ratios between runs, not seconds.

With --against REV (a git revision, e.g. HEAD before a change) it runs
the same three steps with that revision's issuer/ and verifier/ (git
archive, in a temporary folder), step by step in turn with this
checkout's (the ledger emptied before each import): the before and after of
a change, measured in the same run; the table's last column is this
checkout's seconds over that revision's, run just before.

On SQLite it also times, on a scratch copy of the database, the driver's
bare executemany of the same rows with and without migration 0009's
ledger_version row trigger: the part of the import's writing the trigger
costs.

Prints figures only: it never fails on speed. It exits non-zero only on a
real error (an import refused that should not be, a refused import that
stored something, a count that does not match, a database error).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import BenchError, cpu_name, run_main, say  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_SECONDS, TARGET_MB = 10.0, 250.0  # the issue's


def peak_mb() -> float:
    """This process's peak RSS. Linux keeps ru_maxrss across exec, so a
    child would start from its parent's peak: its own memory's high-water
    mark (VmHWM) is read instead where there is one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


# -- the child: one import, measured -------------------------------------------


def baseline(path: Path, runs: int = 3) -> tuple[int, float]:
    """Rows of the file read by csv.reader, and the seconds it took (the best of `runs`)."""
    best, n = float("inf"), 0
    for _ in range(runs):
        t0 = time.perf_counter()
        with path.open(encoding="utf-8-sig", newline="") as f:
            n = sum(1 for _ in csv.reader(f)) - 1
        best = min(best, time.perf_counter() - t0)
    return n, best


def child(step: str, url: str, path: Path) -> dict:
    code = os.environ.get("BENCH_IMPORT_CODE")
    if code:  # another revision's code, ahead of this checkout's
        sys.path.insert(0, code)
    from sqlalchemy import func, select

    import issuer
    from issuer.db import make_engine, read_session, write_session
    from issuer.ledger.importing.records import import_records
    from issuer.ledger.importing.report import ImportRefused
    from issuer.models import TrainingRecord

    engine = make_engine(url)
    try:
        with read_session(engine) as s:
            before = s.scalar(select(func.count()).select_from(TrainingRecord))
        rows, base = baseline(path)
        rss_before = peak_mb()
        t0 = time.perf_counter()
        out: dict = {"step": step, "rows": rows, "baseline": base, "rss_before": rss_before}
        out["code"] = str(Path(issuer.__file__).parent.parent)
        try:
            with write_session(engine) as s:
                result = import_records(s, path)
            out |= {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
        except ImportRefused as e:
            out |= {"refused": e.total, "rows_named": [x.row for x in e.errors]}
        out["seconds"] = time.perf_counter() - t0
        out["peak"] = peak_mb()
        with read_session(engine) as s:
            out["stored_before"] = before
            out["stored_after"] = s.scalar(select(func.count()).select_from(TrainingRecord))
        return out
    finally:
        engine.dispose()


def run_child(step: str, url: str, path: Path, code: Path | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if code is not None:
        env["BENCH_IMPORT_CODE"] = str(code)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", step, url, str(path)], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise BenchError(f"{step}: the child failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["code"] != str(code or ROOT):
        raise BenchError(f"{step}: the child ran the code in {out['code']}, not {code or ROOT}")
    return out


def checkout(rev: str, into: Path) -> Path:
    """issuer/, verifier/ and templates/ of a git revision, in a folder of their own."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "issuer", "verifier", "templates"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def empty_ledger(url: str) -> None:
    from sqlalchemy import text

    from issuer.db import make_engine, write_session

    engine = make_engine(url)
    try:
        with write_session(engine) as s:
            s.execute(text("DELETE FROM training_records"))
    finally:
        engine.dispose()


# -- the parent ----------------------------------------------------------------------


def prepare(url: str, files: dict[str, Path]) -> None:
    from issuer.db import make_engine, migrate, write_session
    from issuer.ledger.importing.projects import import_projects
    from issuer.ledger.importing.roster import import_roster
    from verifier.profiles import load_profile

    engine = make_engine(url)
    try:
        migrate(engine)
        with write_session(engine) as s:
            import_projects(s, files["projects"])
        with write_session(engine) as s:
            import_roster(s, files["roster"], load_profile("horgos-7"))
    finally:
        engine.dispose()


def bad_last_row(path: Path, out: Path) -> Path:
    """The file with its last row's completion date made no date."""
    lines = path.read_text(encoding="utf-8").rstrip("\n").split("\n")
    cells = lines[-1].split(",")
    cells[-1] = "2025-13-01"
    lines[-1] = ",".join(cells)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def bench_backend(
    backend: str, url: str, files: dict[str, Path], n: int, scratch: Path, against: tuple[str, Path] | None
) -> list[dict]:
    say(f"\n== {backend} ==")
    prepare(url, files)
    before_records = None
    if backend == "sqlite":
        before_records = scratch / "before-records.sqlite3"
        shutil.copyfile(url.removeprefix("sqlite:///"), before_records)
    bad = bad_last_row(files["records"], scratch / "records-bad.csv")
    figures = []
    versions: list[tuple[str, Path | None]] = [("this checkout", None)]
    if against is not None:
        versions.insert(0, against)
    steps = (
        ("records import", files["records"]),
        ("records re-import", files["records"]),
        ("records refused", bad),
    )
    for step, path in steps:  # each step by each version in turn, so that both see the machine alike
        for version, code in versions:
            if step == "records import":
                empty_ledger(url)
            f = run_child(step, url, path, code)
            f["backend"], f["version"] = backend, version
            check(f, n)
            figures.append(f)
            say(
                f"  {step:<18} {version:<14} {f['seconds']:7.2f} s  {f['rows'] / f['seconds']:>9,.0f} rows/s  "
                f"peak {f['peak']:5.0f} MB (before reading the file {f['rss_before']:.0f})  "
                f"baseline {f['baseline']:.2f} s, ratio {f['seconds'] / f['baseline']:5.1f}×"
            )
    if before_records is not None:
        trigger_cost(url.removeprefix("sqlite:///"), before_records, scratch)
    return figures


def check(f: dict, n: int) -> None:
    if f["rows"] != n:
        raise BenchError(f"{f['step']}: the file has {f['rows']} rows, expected {n}")
    if f["step"] == "records import" and (f.get("created"), f["stored_after"]) != (n, n):
        raise BenchError(f"records import: {f}")
    if f["step"] == "records re-import" and (f.get("unchanged"), f["stored_after"]) != (n, n):
        raise BenchError(f"records re-import: {f}")
    if f["step"] == "records refused" and (f.get("refused"), f.get("rows_named"), f["stored_after"]) != (
        1,
        [n + 1],
        f["stored_before"],
    ):
        raise BenchError(f"records refused: expected one error on row {n + 1} and nothing stored: {f}")


def trigger_cost(imported: str, before_records: Path, scratch: Path) -> None:
    """The driver's bare executemany of the imported rows into a copy of the
    database as it was before them, with and without the row trigger."""
    columns = (
        "teacher_id, project_code, grade, role, completed_on, status, recognised_at, declared_by, "
        "created_at, updated_at"
    )
    with sqlite3.connect(imported) as c:
        rows = c.execute(f"SELECT {columns} FROM training_records ORDER BY id").fetchall()
    took = {}
    for trigger in (True, False):
        copy = scratch / f"floor-{trigger}.sqlite3"
        shutil.copyfile(before_records, copy)
        c = sqlite3.connect(copy, isolation_level=None)
        try:
            for pragma in ("foreign_keys = ON", "journal_mode = WAL", "synchronous = NORMAL"):
                c.execute(f"PRAGMA {pragma}")
            if not trigger:
                c.execute("DROP TRIGGER ledger_version_training_records_insert")
            c.execute("BEGIN IMMEDIATE")
            t0 = time.perf_counter()
            for i in range(0, len(rows), 5_000):
                c.executemany(
                    f"INSERT INTO training_records ({columns}) VALUES ({', '.join('?' * 10)})",
                    rows[i : i + 5_000],
                )
            took[trigger] = time.perf_counter() - t0
            c.execute("ROLLBACK")
        finally:
            c.close()
    say(
        f"  bare executemany of the same rows: {took[True]:.2f} s with the ledger_version row trigger, "
        f"{took[False]:.2f} s without ({max(1 - took[False] / took[True], 0):.0%} of it is the trigger)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", type=int, default=10_000)
    ap.add_argument("--records-per-teacher", type=float, default=30)
    ap.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--against", metavar="REV", help="also run a git revision's import (before and after)")
    args = ap.parse_args(argv)

    from benchmarks.bench_ledger import PgSchema, pg_admin_url, pg_unreachable
    from scripts.make_sample import generate

    say(f"bench_import: {cpu_name()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        scratch = Path(tmp)
        counts = generate(
            scratch / "sample", teachers=args.teachers, records_per_teacher=args.records_per_teacher
        )
        n = counts["records.csv"]
        files = {k: scratch / "sample" / f"{k}.csv" for k in ("projects", "roster", "records")}
        size = files["records"].stat().st_size
        say(
            f"{counts['roster.csv']:,} teachers, {counts['projects.csv']:,} projects, {n:,} records ({size / 2**20:.1f} MB)"
        )
        figures: list[dict] = []
        against = (
            None if args.against is None else (args.against, checkout(args.against, scratch / "against"))
        )
        for backend in args.backends.split(","):
            if backend == "sqlite":
                figures += bench_backend(
                    backend, f"sqlite:///{scratch / 'ecert.sqlite3'}", files, n, scratch, against
                )
            elif backend == "postgresql":
                admin = pg_admin_url()
                why = pg_unreachable(admin)
                if why:
                    say(f"\n== postgresql: skipped ({why}) ==")
                    continue
                with PgSchema(admin) as url:
                    figures += bench_backend(backend, url, files, n, scratch, against)
            else:
                raise BenchError(f"unknown backend {backend!r}")
        say(
            "\n| backend | code | step | seconds | rows/s | peak RSS | baseline (csv.reader) | ratio | vs --against |"
        )
        say("|---|---|---|---|---|---|---|---|---|")
        before = {
            (f["backend"], f["step"]): f["seconds"] for f in figures if against and f["version"] == against[0]
        }
        for f in figures:
            was = before.get((f["backend"], f["step"])) if against and f["version"] != against[0] else None
            vs = f"{f['seconds'] / was:.2f}" if was else ""
            say(
                f"| {f['backend']} | {f['version']} | {f['step']} | {f['seconds']:.2f} | "
                f"{f['rows'] / f['seconds']:,.0f} | {f['peak']:.0f} MB | {f['baseline']:.2f} s | "
                f"{f['seconds'] / f['baseline']:.1f}× | {vs} |"
            )
        say(
            f"\nThe issue's target: under {TARGET_SECONDS:.0f} s and {TARGET_MB:.0f} MB for 300k rows "
            "(peak RSS includes the interpreter and its modules; timings vary with the machine's load)."
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], Path(sys.argv[4]))))
        sys.exit(0)
    run_main(main, "bench_import")
