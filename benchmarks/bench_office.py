#!/usr/bin/env python3
"""The office's teacher table (/office/teachers) on the sample data: how
long a page takes, beside a bare Flask route of the same app in the same
run.

    .venv/bin/python benchmarks/bench_office.py [--sample sample] [--runs 5] [--db PATH]

Imports sample/*.csv into a fresh SQLite file (migrate, then the three
imports exactly as `ecert … import` runs them; `--db` reuses a file made
by an earlier run), makes a bureau admin's account and signs it in through
the Flask test client (the whole Flask stack: session, CSRF, headers,
template; no HTTP server). Then, each the best and the median of --runs:

  - baseline: a route that returns "ok" (what any request costs here);
  - the region's page 1 and page 10 (`?school=all`, 100 rows a page);
  - the largest school's page 1;
  - `short=any` (everyone not qualified) over the region, cold (the
    per-process summary cache cleared before each run) and warm; cold,
    `short=elective` page 3 and a page past the end of `short=any` (which
    needs every teacher's sheet);
  - `short=elective`, page 3, warm;
  - the search box: a name, an ID number, a printed certificate number.

Every answer must be a 200 with the rows expected (100 on a full page),
else it is an error. Prints figures only; exits non-zero only on a real
error.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import BenchError, cpu_name, run_main, say, timed  # noqa: E402

ROW = re.compile(r'<tr><td[^>]*><a href="/office/teachers/[0-9X]{16}">')


def _import(url: str, sample: Path) -> None:
    from issuer.db import make_engine, migrate, write_session
    from issuer.ledger.importing.projects import import_projects
    from issuer.ledger.importing.records import import_records
    from issuer.ledger.importing.roster import import_roster
    from verifier.profiles import load_profile

    profile = load_profile("horgos-7")
    engine = make_engine(url)
    try:
        migrate(engine)
        for work in (
            lambda s: import_projects(s, sample / "projects.csv"),
            lambda s: import_roster(s, sample / "roster.csv", profile),
            lambda s: import_records(s, sample / "records.csv"),
        ):
            with write_session(engine) as session:
                work(session)
    finally:
        engine.dispose()


def _migrate(url: str) -> None:
    from issuer.db import make_engine, migrate

    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()


def _admin(engine) -> tuple[int, int]:
    """A bureau admin whose one-time code counts as changed: (id, epoch)."""
    from sqlalchemy import select

    from issuer.db import write_session
    from issuer.models import StaffAccount
    from issuer.office import staff

    with write_session(engine) as s:
        account = s.scalar(select(StaffAccount).where(StaffAccount.username == "bench-admin"))
        if account is None:
            staff.create_account(s, "bench-admin", "测试", "admin")
            account = s.scalar(select(StaffAccount).where(StaffAccount.username == "bench-admin"))
        assert account is not None
        account.must_change = False
        return account.id, account.epoch


def _facts(engine) -> dict[str, str]:
    """The largest school, and one teacher's name, ID number and number."""
    from sqlalchemy import func, select

    from issuer.db import read_session
    from issuer.models import Registration, Teacher
    from verifier.numbers import CertificateNumber

    with read_session(engine) as s:
        school = s.execute(
            select(Teacher.school_code, func.count())
            .group_by(Teacher.school_code)
            .order_by(func.count().desc())
        ).first()
        name, idn, number = s.execute(
            select(Teacher.name, Teacher.id_number, Registration.number)
            .join(Registration, Registration.teacher_id == Teacher.id)
            .order_by(Teacher.id)
            .offset(1234)
        ).first()
    assert school is not None
    return {
        "school": school[0],
        "school_size": str(school[1]),
        "name": name,
        "id_number": idn,
        "number": number,
        "printed": CertificateNumber.parse(number).printed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=Path, default=ROOT / "sample")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--db", type=Path, help="a SQLite file: imported into when absent, reused when present")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-office-") as tmp:
        db = args.db or Path(tmp) / "office.sqlite3"
        url = f"sqlite:///{db}"
        if not db.exists():
            _, s = timed(lambda: _import(url, args.sample))
            say(f"imported {args.sample}/*.csv into {db} in {s:.1f} s (not measured further)")
        else:
            _migrate(url)  # a file of an earlier run: brought to this code's schema
        os.environ.update(DATABASE_URL=url, ECERT_DATA_DIR=str(Path(tmp) / "data"))
        os.environ.pop("ECERT_PROFILE", None)
        return _measure(args.runs)


def _measure(runs: int) -> int:
    import sqlalchemy

    from issuer.config import load_settings
    from issuer.office import queries
    from issuer.web import create_app

    app = create_app(load_settings(), RATELIMIT_ENABLED=False)
    app.add_url_rule("/bench-ping", "bench_ping", lambda: "ok")
    engine = app.extensions["ecert_engine"]
    account_id, epoch = _admin(engine)
    facts = _facts(engine)
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["staff_id"], sess["staff_epoch"] = account_id, epoch
    csrf = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/office/teachers").get_data(as_text=True)
    )
    token = csrf.group(1) if csrf else ""
    forget = getattr(queries, "forget_summaries", lambda: None)  # absent before the summary cache

    def page(path: str, rows: int | None) -> Callable[[], None]:
        def get() -> None:
            r = client.get(path)
            body = r.get_data(as_text=True)
            if r.status_code != 200:
                raise BenchError(f"GET {path}: {r.status_code}")
            n = len(ROW.findall(body))
            if rows is not None and n != rows:
                raise BenchError(f"GET {path}: {n} rows, expected {rows}")

        return get

    def search(q: str, found: str) -> Callable[[], None]:
        """POST the box; a whole number leads to the teacher's page (303),
        a name lists her among the rows (200)."""

        def post() -> None:
            r = client.post("/office/search", data={"q": q, "csrf_token": token})
            body = r.get_data(as_text=True)
            if r.status_code == 303:
                ok = r.headers["Location"].endswith(f"/office/teachers/{found}")
            else:
                ok = r.status_code == 200 and f"/office/teachers/{found}" in body
            if not ok:
                raise BenchError(f"search {q!r}: {r.status_code}, not teacher {found}")

        return post

    def cold(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            forget()
            fn()

        return run

    steps: list[tuple[str, Callable[[], None]]] = [
        ("baseline: bare route", page("/bench-ping", None)),
        ("region, page 1", page("/office/teachers?school=all", 100)),
        ("region, page 10", page("/office/teachers?school=all&page=9", 100)),
        (
            f"school {facts['school']} ({facts['school_size']}), page 1",
            page(f"/office/teachers?school={facts['school']}", 100),
        ),
        ("region short=any, cold", cold(page("/office/teachers?school=all&short=any", 100))),
        # the worst case: a page that needs every teacher's sheet at once
        (
            "region short=elective p3, cold",
            cold(page("/office/teachers?school=all&short=elective&page=2", None)),
        ),
        (
            "region short=any, past the end, cold",
            cold(page("/office/teachers?school=all&short=any&page=99", 0)),
        ),
        ("region short=any, warm", page("/office/teachers?school=all&short=any", 100)),
        ("region short=elective p3, warm", page("/office/teachers?school=all&short=elective&page=2", None)),
        ("school short=any, warm", page(f"/office/teachers?school={facts['school']}&short=any", None)),
    ]
    if "office.search" in app.view_functions:
        steps += [
            ("search: a name", search(facts["name"], facts["number"])),
            ("search: an ID number", search(facts["id_number"], facts["number"])),
            ("search: a printed number", search(facts["printed"], facts["number"])),
        ]

    say(
        f"bench_office: {cpu_name()}, Python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {__import__('sqlite3').sqlite_version}, {date.today()}; best and median of {runs} runs"
    )
    page("/office/teachers?school=all", 100)()  # templates compiled, connections opened: not measured
    for label, fn in steps:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        say(f"  {label:<36} best {min(times):8.1f} ms   median {statistics.median(times):8.1f} ms")
    app.extensions["ecert_verifier"].close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    run_main(main, "bench_office")
