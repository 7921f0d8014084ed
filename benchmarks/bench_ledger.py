#!/usr/bin/env python3
"""Speed of the ledger: imports and credit sheets, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/bench_ledger.py [--teachers 10000]
        [--records-per-teacher 30] [--backends sqlite,postgresql]

Generates the sample files (scripts/make_sample.py, deterministic) into a
temporary folder, then for each backend, in a fresh database (SQLite: a temp
file; PostgreSQL: a fresh schema at ECERT_TEST_POSTGRES or
postgresql+psycopg://postgres@127.0.0.1:5432/test, dropped at the end):

  - migrate;
  - projects, roster (with registration) and records imports, each in its
    own write_session transaction, exactly as the `ecert ... import` commands;
  - the records file imported again (the idempotent path: all unchanged);
  - every credit sheet through ledger.all_sheets (what `ecert summary` does),
    with two baselines: iterating the same records query's rows, and the same
    plus turning each row into a RecordInput, without computing.

Then, once, the pure engine: all holders and records are loaded into memory
(from the last backend, through the ledger's own queries and row
conversion), and engine.compute_sheet is timed over every teacher in this one
process (the issue's target: 10,000 teachers with 30 records each in under
10 s on one core), next to a baseline that only iterates the same records.
It runs last, so its in-memory data never sits in the heap while the
backends are measured.

Prints figures only: it never fails on speed. It exits non-zero only on a
real error (an import refused, a re-import that is not all unchanged, a
sheet count that does not match, a database error).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from benchmarks.common import BenchError, cpu_name, run_main, say, timed  # noqa: E402
from issuer.db import make_engine, migrate, normalise_url, read_session, write_session  # noqa: E402
from issuer.ledger.credits.engine import compute_sheet  # noqa: E402
from issuer.ledger.credits.ledger import (  # noqa: E402
    STREAM_BATCH,
    Holder,
    _record_input,
    _records,
    all_sheets,
    holders_query,
)
from issuer.ledger.importing.projects import import_projects  # noqa: E402
from issuer.ledger.importing.records import import_records  # noqa: E402
from issuer.ledger.importing.roster import import_roster  # noqa: E402
from issuer.models import Registration, Teacher, TrainingRecord  # noqa: E402
from scripts.make_sample import generate  # noqa: E402
from verifier.profiles import RulesProfile, load_profile  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_SECONDS = 10.0  # the target for the pure engine
PROFILE_ID = "horgos-7"
AS_OF = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # as `ecert summary` does


@dataclass
class Figure:
    backend: str
    step: str
    rows: int
    seconds: float
    extra: str = ""
    rss_mb: float = field(default_factory=lambda: current_rss_mb())
    peak_mb: float = field(default_factory=lambda: peak_rss_mb())

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def current_rss_mb() -> float:
    try:  # Linux; elsewhere the column stays empty
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


# -- backends --------------------------------------------------------------


def pg_admin_url() -> str:
    return normalise_url(os.environ.get("ECERT_TEST_POSTGRES") or PG_DEFAULT)


def pg_unreachable(url: str) -> str | None:
    eng = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with eng.connect() as c:
            c.execute(text("select 1"))
        return None
    except Exception as e:  # any failure means "not here"
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    finally:
        eng.dispose()


class PgSchema:
    """A fresh schema for the run, dropped (cascade) on exit, even on failure."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"bench_{uuid.uuid4().hex[:12]}"
        self.admin = create_engine(admin_url)

    def __enter__(self) -> str:
        with self.admin.begin() as c:
            c.execute(text(f"create schema {self.name}"))
        sep = "&" if "?" in self.admin_url else "?"
        return f"{self.admin_url}{sep}options=-csearch_path%3D{self.name}"

    def __exit__(self, *exc) -> None:
        try:
            with self.admin.begin() as c:
                c.execute(text(f"drop schema if exists {self.name} cascade"))
            say(f"  (schema {self.name} dropped)")
        finally:
            self.admin.dispose()


# -- one backend -------------------------------------------------------------


def import_once(engine, work: Callable) -> object:
    """One import in its own write transaction, as issuer/cli/commands.py's
    _run_import does."""
    with write_session(engine) as session:
        return work(session)


def bench_backend(
    backend: str,
    url: str,
    files: dict[str, Path],
    counts: dict[str, int],
    profile: RulesProfile,
    figures: list[Figure],
    load_for_engine: bool,
) -> dict | None:
    """Every step on one backend; with load_for_engine, also the pure
    engine's inputs, read from this database before it goes away."""
    engine = make_engine(url)
    try:
        version = _server_version(engine)
        say(f"\n== {backend} ({version}) ==")
        _, s = timed(lambda: migrate(engine))
        figures.append(Figure(backend, "migrate", 0, s))
        say(f"  migrate                 {s:8.2f} s")

        n_projects, n_teachers, n_records = (
            counts["projects.csv"],
            counts["roster.csv"],
            counts["records.csv"],
        )
        steps = [
            (
                "projects import",
                n_projects,
                lambda s_: import_projects(s_, files["projects"]),
                dict(created=n_projects),
            ),
            (
                "roster import+register",
                n_teachers,
                lambda s_: import_roster(s_, files["roster"], profile),
                dict(created=n_teachers),
            ),
            (
                "records import",
                n_records,
                lambda s_: import_records(s_, files["records"]),
                dict(created=n_records),
            ),
            (
                "records re-import",
                n_records,
                lambda s_: import_records(s_, files["records"]),
                dict(created=0, updated=0, unchanged=n_records),
            ),
        ]
        for step, rows, work, expect in steps:
            result, s = timed(lambda work=work: import_once(engine, work))
            got = {k: getattr(result, k) for k in expect}
            if got != expect:
                raise BenchError(f"{backend} {step}: expected {expect}, got {got} ({result.summary()})")
            figures.append(
                Figure(
                    backend,
                    step,
                    rows,
                    s,
                    f"created {result.created:,}, updated {result.updated:,}, unchanged {result.unchanged:,}",
                )
            )
            say(f"  {step:<23} {s:8.2f} s  {rows / s:>10,.0f} rows/s   {figures[-1].extra}")

        with read_session(engine) as session:
            registered = session.scalar(sqlalchemy.select(sqlalchemy.func.count()).select_from(Registration))
        if registered != n_teachers:
            raise BenchError(f"{backend}: {registered} registrations for {n_teachers} teachers")

        # Baseline 1: only fetch the rows of all_sheets' records query.
        def fetch_only() -> int:
            n = 0
            with read_session(engine) as session:
                for _ in session.execute(
                    _records_stream(profile), execution_options={"yield_per": STREAM_BATCH}
                ):
                    n += 1
            return n

        n, s = timed(fetch_only)
        if n != n_records:
            raise BenchError(f"{backend}: records query gave {n} rows, expected {n_records}")
        figures.append(Figure(backend, "baseline: fetch records", n, s))
        say(f"  {'baseline: fetch records':<23} {s:8.2f} s  {n / s:>10,.0f} rows/s")

        # Baseline 2: fetch holders and records, build Holder and RecordInput.
        def fetch_and_convert() -> int:
            n = 0
            with read_session(engine) as session:
                opts = {"yield_per": STREAM_BATCH}
                for h in session.execute(holders_query(profile).order_by(Teacher.id), execution_options=opts):
                    Holder(*h)
                for r in session.execute(_records_stream(profile), execution_options=opts):
                    _record_input(r)
                    n += 1
            return n

        n, s = timed(fetch_and_convert)
        figures.append(Figure(backend, "baseline: fetch+convert", n, s))
        say(f"  {'baseline: fetch+convert':<23} {s:8.2f} s  {n / s:>10,.0f} rows/s")

        # The real thing: every sheet through all_sheets, as `ecert summary`.
        def sheets() -> tuple[int, int, int]:
            teachers = qualified = records = 0
            with read_session(engine) as session:
                for _holder, sheet in all_sheets(session, profile, as_of=AS_OF):
                    teachers += 1
                    qualified += sheet.qualified
                    records += len(sheet.records)
            return teachers, qualified, records

        (teachers, qualified, records), s = timed(sheets)
        if teachers != n_teachers or records != n_records:
            raise BenchError(
                f"{backend}: all_sheets gave {teachers} sheets / {records} records, "
                f"expected {n_teachers} / {n_records}"
            )
        base = figures[-1].seconds  # fetch+convert
        figures.append(
            Figure(
                backend,
                "all_sheets",
                teachers,
                s,
                f"{records / s:,.0f} records/s; {qualified:,} qualified; "
                f"≈{max(s - base, 0) / s:.0%} beyond fetch+convert",
            )
        )
        say(
            f"  {'all_sheets':<23} {s:8.2f} s  {teachers / s:>10,.0f} teachers/s  "
            f"{records / s:,.0f} records/s; {qualified:,} of {teachers:,} qualified"
        )
        say(
            f"  {'':<23} all_sheets − fetch+convert ≈ {s - base:.2f} s "
            f"(≈{max(s - base, 0) / s:.0%} of all_sheets: the engine and the merge)"
        )

        if not load_for_engine:
            return None
        inputs, s = timed(lambda: load_inputs(engine, profile))
        inputs["qualified_all_sheets"] = qualified
        figures.append(Figure(backend, "load engine inputs", n_records, s))
        say(f"  {'load engine inputs':<23} {s:8.2f} s  {n_records / s:>10,.0f} rows/s")
        return inputs
    finally:
        engine.dispose()


def _records_stream(profile: RulesProfile):
    """The records query of all_sheets (no school filter), verbatim."""
    return (
        _records(profile)
        .join(Registration, Registration.teacher_id == TrainingRecord.teacher_id)
        .where(Registration.cycle == profile.cycle, Registration.bureau_code == profile.issuer_code)
        .order_by(TrainingRecord.teacher_id)
    )


def _server_version(engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.connect() as c:
        return "PostgreSQL " + c.execute(text("show server_version")).scalar()


# -- the pure engine -------------------------------------------------------


def load_inputs(engine, profile: RulesProfile) -> dict:
    """Every holder's TeacherInput and RecordInput list, through the ledger's
    own queries and row conversion."""
    by_teacher: dict[int, list] = {}
    with read_session(engine) as session:
        holders = [Holder(*h) for h in session.execute(holders_query(profile).order_by(Teacher.id))]
        for r in session.execute(_records_stream(profile), execution_options={"yield_per": STREAM_BATCH}):
            by_teacher.setdefault(r[0], []).append(_record_input(r))
    work = [(h.engine_input(), by_teacher.get(h.teacher_id, [])) for h in holders]
    return {"work": work, "records": sum(len(rs) for _, rs in work)}


def bench_engine(inputs: dict, profile: RulesProfile, repeat: int, figures: list[Figure]) -> None:
    work = inputs["work"]
    n_teachers, n_records = len(work), inputs["records"]
    say(
        f"\n== pure engine: compute_sheet over {n_teachers:,} teachers, {n_records:,} records, "
        f"one process, {repeat} runs =="
    )

    def iterate_only() -> int:
        n = 0
        for _teacher, recs in work:
            for _r in recs:
                n += 1
        return n

    def sort_only() -> int:
        # What compute_sheet does before any rule: sort each teacher's records.
        n = 0
        for _teacher, recs in work:
            n += len(sorted(recs, key=lambda r: (r.completed_on, r.project_code)))
        return n

    def compute_all() -> int:
        qualified = 0
        for teacher, recs in work:
            qualified += compute_sheet(profile, teacher, recs, AS_OF).qualified
        return qualified

    _, base = timed(iterate_only)
    _, sort_s = timed(sort_only)
    walls, cpus, qualified = [], [], 0
    for _ in range(repeat):
        (qualified, cpu), s = timed(lambda: _with_cpu(compute_all))
        cpus.append(cpu)
        walls.append(s)
    best, median = min(walls), statistics.median(walls)
    if inputs.get("qualified_all_sheets") is not None and qualified != inputs["qualified_all_sheets"]:
        raise BenchError(
            f"pure engine: {qualified} qualified, all_sheets said {inputs['qualified_all_sheets']}"
        )
    figures.append(Figure("memory", "baseline: iterate records", n_records, base))
    figures.append(Figure("memory", "baseline: sort per teacher", n_records, sort_s))
    figures.append(
        Figure(
            "memory",
            "compute_sheet (best)",
            n_teachers,
            best,
            f"{n_records / best:,.0f} records/s; median {median:.2f} s; "
            f"CPU {min(cpus):.2f} s; {best / TARGET_SECONDS:.2f}× the 10 s target",
        )
    )
    say(f"  baseline: iterate all records      {base:8.3f} s")
    say(f"  baseline: sort each teacher's      {sort_s:8.3f} s")
    say(
        f"  compute_sheet, all teachers        best {best:.2f} s, median {median:.2f} s "
        f"(runs: {', '.join(f'{w:.2f}' for w in walls)}), CPU {min(cpus):.2f} s"
    )
    say(
        f"  = {n_teachers / best:,.0f} teachers/s, {n_records / best:,.0f} records/s, "
        f"{best / n_teachers * 1e6:,.0f} µs per teacher; {qualified:,} qualified"
    )
    scale = ""
    if n_teachers != 10_000:
        scale = f"; scaled to 10,000 teachers ≈ {best * 10_000 / n_teachers:.2f} s"
    say(
        f"  target: 10 s → {best:.2f} s is {best / TARGET_SECONDS:.2f}× the target "
        f"({TARGET_SECONDS / best:.1f}× headroom){scale}"
    )


def _with_cpu(fn: Callable[[], object]) -> tuple[object, float]:
    c0 = time.process_time()
    out = fn()
    return out, time.process_time() - c0


# -- report ----------------------------------------------------------------


def print_table(figures: list[Figure]) -> None:
    say("\n== figures ==")
    say(f"{'backend':<11}{'step':<27}{'rows':>8}{'seconds':>9}{'rows/s':>11}{'RSS MB':>8}{'peak':>6}  notes")
    for f in figures:
        rate = f"{f.rate:,.0f}" if f.rows else ""
        say(
            f"{f.backend:<11}{f.step:<27}{f.rows:>8,}{f.seconds:>9.2f}{rate:>11}{f.rss_mb:>8.0f}"
            f"{f.peak_mb:>6.0f}  {f.extra}"
        )
    say(
        "(rows/s: teachers/s for all_sheets and compute_sheet; RSS MB: resident after the step; "
        "peak: the process's high-water mark so far)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", type=int, default=10_000)
    ap.add_argument("--records-per-teacher", type=float, default=30)
    ap.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql (default both)"
    )
    ap.add_argument("--engine-runs", type=int, default=3, help="runs of the pure engine (best is reported)")
    args = ap.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        ap.error(f"unknown backend(s): {', '.join(sorted(unknown))}")

    say(
        f"bench_ledger {date.today().isoformat()}  Python {platform.python_version()}  "
        f"SQLAlchemy {sqlalchemy.__version__}  {platform.machine()} {cpu_name()} ×{os.cpu_count()}"
    )
    profile = load_profile(PROFILE_ID)
    figures: list[Figure] = []
    if "postgresql" in backends:
        admin = pg_admin_url()
        why = pg_unreachable(admin)
        if why:
            shown = sqlalchemy.engine.make_url(admin).render_as_string(hide_password=True)
            say(
                f"note: PostgreSQL skipped, not reachable at {shown} ({why}); "
                f"set ECERT_TEST_POSTGRES to measure it"
            )
            backends.remove("postgresql")
    if not backends:
        say("no backend left to measure: nothing done")
        return 0
    inputs = None
    with tempfile.TemporaryDirectory(prefix="ecert-bench-") as tmp:
        out = Path(tmp)
        counts, s = timed(
            lambda: generate(
                out / "files", teachers=args.teachers, records_per_teacher=args.records_per_teacher
            )
        )
        files = {k: out / "files" / f"{k}.csv" for k in ("projects", "roster", "records")}
        figures.append(Figure("files", "generate (make_sample)", counts["records.csv"], s))
        say(
            f"generated {counts['roster.csv']:,} teachers, {counts['projects.csv']:,} projects, "
            f"{counts['records.csv']:,} records in {s:.2f} s "
            f"({files['records'].stat().st_size / 1e6:.1f} MB records.csv)"
        )

        for i, backend in enumerate(backends):
            last = i == len(backends) - 1
            if backend == "sqlite":
                got = bench_backend(
                    "sqlite", f"sqlite:///{out / 'bench.sqlite3'}", files, counts, profile, figures, last
                )
            else:
                with PgSchema(pg_admin_url()) as url:
                    got = bench_backend("postgresql", url, files, counts, profile, figures, last)
            inputs = got or inputs

    if inputs is not None:
        bench_engine(inputs, profile, args.engine_runs, figures)
        del inputs

    print_table(figures)
    say(f"\npeak RSS {peak_rss_mb():.0f} MB (resource.getrusage, whole run)")
    return 0


if __name__ == "__main__":
    run_main(main, "bench_ledger")
