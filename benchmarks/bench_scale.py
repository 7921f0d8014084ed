#!/usr/bin/env python3
"""A whole region at scale, as the bureau runs it: every step an `ecert`
command in its own process, timed, with its peak memory.

    .venv/bin/python benchmarks/bench_scale.py [--teachers 100000]
        [--records-per-teacher 30] [--schools 150] [--workers 2] [--keep DIR]

Generates the region with scripts/make_sample.py (deterministic; not
counted), then on a fresh SQLite file runs, each as a separate command:
`projects import`, `roster import`, `records import`, `keys init`,
`issue` (over --workers processes), `issue` again (every teacher
unchanged), every credit sheet computed (ledger.all_sheets, the office's
and a job plan's reading), `status export` (the signed snapshot), and
`render` of one school's certificates with --workers processes (a sample:
the rate of a batch does not depend on the region's size). For each: wall
time, peak resident memory of the command and its children (wait4), and
throughput. Beside them, in the same run: raw Ed25519 signatures as many
as teachers (issuance's yardstick) and reading the records file with the
csv module (the import's).

Then the extrapolation the README's scale section quotes: a million
teachers, the linear steps ×10 and the parallel ones over N cores.
Prints figures only; exits non-zero only on a command that fails.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from benchmarks.common import BenchError, cpu_name, run_main, say  # noqa: E402
from scripts.make_sample import generate  # noqa: E402

PASSPHRASE = "bench-only-throwaway-passphrase"  # a temp key in a temp folder
AS_OF = "2026-11-23"
PART_ROWS = 500_000  # the row limit of a records file (limits.py), about 29 MB
SHEETS = """
import sys, time
from datetime import date
from issuer.config import load_settings
from issuer.db import make_engine, read_session
from issuer.ledger.credits.ledger import all_sheets
from verifier.profiles import load_profile
engine = make_engine(load_settings().database_url)
with read_session(engine) as s:
    n = sum(1 for _ in all_sheets(s, load_profile("horgos-7"), as_of=date(2026, 11, 23)))
print(n)
"""


@dataclass
class Step:
    name: str
    seconds: float
    peak_mb: float
    items: int
    unit: str


def run(env: dict[str, str], args: list[str], name: str, items: int, unit: str) -> Step:
    """One command, its wall time and peak RSS (wait4: its own, or a waited
    child's if larger, as ru_maxrss reports it)."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            raise BenchError(f"{name}: exit {proc.returncode}\n{out.read()[-3000:].decode(errors='replace')}")
    return Step(name, seconds, usage.ru_maxrss / 1024, items, unit)


def ecert(*args: str) -> list[str]:
    return [sys.executable, "-m", "issuer.cli", *args]


def split(path: Path, rows: int) -> list[tuple[Path, int]]:
    """The file in parts of at most `rows` rows, each with the header: a
    file is refused over 500,000 rows (issuer/ledger/importing/limits.py), so a
    region this size imports its records in parts, as a bureau would."""
    with path.open(encoding="utf-8", newline="") as f:
        header, parts, out, n = f.readline(), [], None, 0
        for line in f:
            if out is None or n == rows:
                if out is not None:
                    out.close()
                    parts[-1] = (parts[-1][0], n)
                part = path.with_name(f"{path.stem}-{len(parts) + 1}.csv")
                out, n = part.open("w", encoding="utf-8", newline=""), 0
                out.write(header)
                parts.append((part, 0))
            out.write(line)
            n += 1
        if out is not None:
            out.close()
            parts[-1] = (parts[-1][0], n)
    return parts


def raw_signatures(n: int) -> float:
    key, message = Ed25519PrivateKey.generate(), os.urandom(300)
    t0 = time.perf_counter()
    for _ in range(n):
        key.sign(message)
    return time.perf_counter() - t0


def csv_read(path: Path) -> float:
    t0 = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as f:
        for _ in csv.reader(f):
            pass
    return time.perf_counter() - t0


def first_school(roster: Path) -> tuple[str, int]:
    with roster.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    code = next(k for k in rows[0] if "学校" in k and "代码" in k)
    first = rows[0][code]
    return first, sum(1 for r in rows if r[code] == first)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", type=int, default=100_000)
    ap.add_argument("--records-per-teacher", type=float, default=30)
    ap.add_argument("--schools", type=int, default=150)  # make_sample names at most 99 of a kind
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ecert-scale-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        bench(folder, args)
    return 0


def bench(folder: Path, args: argparse.Namespace) -> None:
    say(
        f"bench_scale {date.today()}: {cpu_name()} ×{os.cpu_count()}, Python {sys.version.split()[0]}; "
        f"load average before {os.getloadavg()[0]:.2f}"
    )
    files = folder / "files"
    t0 = time.perf_counter()
    counts = generate(
        files, teachers=args.teachers, schools=args.schools, records_per_teacher=args.records_per_teacher
    )
    say(
        f"  generated {counts['roster.csv']:,} teachers, {counts['projects.csv']:,} projects, "
        f"{counts['records.csv']:,} records in {time.perf_counter() - t0:.0f} s (not counted)"
    )
    db = folder / "scale.sqlite3"
    db.unlink(missing_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "ECERT_DATA_DIR": str(folder / "data"),
        "ECERT_KEYS_DIR": str(folder / "keys"),
        "ECERT_KEY_PASSPHRASE": PASSPHRASE,
        "ECERT_ACTOR": "bench",
        "PYTHONPATH": str(ROOT),
    }
    n = counts["roster.csv"]
    school, size = first_school(files / "roster.csv")
    steps = [
        run(env, ecert("init"), "init (migrate)", 0, ""),
        run(
            env,
            ecert("projects", "import", str(files / "projects.csv")),
            "projects import",
            counts["projects.csv"],
            "rows",
        ),
        run(
            env,
            ecert("roster", "import", str(files / "roster.csv"), "--new-schools"),
            "roster import",
            n,
            "rows",
        ),
        *(
            run(env, ecert("records", "import", str(part)), f"records import, part {i}", rows, "rows")
            for i, (part, rows) in enumerate(split(files / "records.csv", PART_ROWS), 1)
        ),
        run(env, ecert("keys", "init"), "keys init", 0, ""),
        run(
            env,
            ecert("issue", "--as-of", AS_OF, "--workers", str(args.workers)),
            f"issue ({args.workers} workers)",
            n,
            "teachers",
        ),
        run(
            env,
            ecert("issue", "--as-of", AS_OF, "--workers", str(args.workers)),
            "issue again (unchanged)",
            n,
            "teachers",
        ),
        run(env, [sys.executable, "-c", SHEETS], "every credit sheet", n, "sheets"),
        run(env, ecert("status", "export", "-o", str(folder / "status.json")), "status export", n, "numbers"),
        run(
            env,
            ecert(
                "render", "--school", school, "--out", str(folder / "pdfs"), "--workers", str(args.workers)
            ),
            f"render one school ({args.workers} workers)",
            size,
            "PDFs",
        ),
    ]
    sign = raw_signatures(n)
    read = csv_read(files / "records.csv")
    say(f"  {'step':<28}{'wall':>9}  {'rate':>16}  {'peak RSS':>9}")
    for s in steps:
        rate = f"{s.items / s.seconds:>10,.0f} {s.unit}/s" if s.items else ""
        say(f"  {s.name:<28}{s.seconds:8.1f}s  {rate:>16}  {s.peak_mb:7.0f} MB")
    by = {s.name.split(" (")[0]: s for s in steps}
    records_import = sum(s.seconds for s in steps if s.name.startswith("records import"))
    say(
        f"  yardsticks, same run: {n:,} raw Ed25519 signatures {sign:.2f} s; csv-reading records.csv {read:.2f} s"
    )
    say(
        f"  issue ÷ raw signing: {by['issue'].seconds / sign:.1f}×; records import ÷ csv read: "
        f"{records_import / read:.1f}× ({records_import:.1f} s in all)"
    )
    say(
        f"  database {db.stat().st_size / 2**20:,.0f} MB; snapshot {(folder / 'status.json').stat().st_size / 2**20:,.1f} MB; "
        f"PDFs {sum(p.stat().st_size for p in (folder / 'pdfs').glob('*.pdf')) / max(size, 1) / 1024:.0f} KB each"
    )
    extrapolate(by, n, args.workers)


def extrapolate(by: dict[str, Step], n: int, workers: int) -> None:
    """A million teachers: one writer for imports (linear), issuance and
    rendering over more cores (issuance's chunks are planned in parallel
    and stored in order by one process; rendering is chunks of a job)."""
    k = 1_000_000 / n
    imports = sum(s.seconds for name, s in by.items() if "import" in name) * k
    issue = by["issue"].seconds * k
    render_rate = by["render one school"].items / by["render one school"].seconds / workers  # a core's
    say(f"\n  a million teachers (×{k:.0f}), extrapolated:")
    say(f"    imports (one writer, linear)          {imports / 60:6.1f} min")
    say(f"    issue on {workers} cores, as measured        {issue / 60:6.1f} min")
    for cores in (8, 32):
        say(
            f"    render on {cores:>2} cores ({render_rate:.1f} PDFs/s a core)  "
            f"{1_000_000 / (render_rate * cores) / 3600:6.1f} h"
        )


if __name__ == "__main__":
    run_main(main, "bench_scale")
