#!/usr/bin/env python3
"""A rendering batch as a background job (issue 6): one Celery worker
against two, on the same certificates.

    .venv/bin/python benchmarks/bench_jobs.py [--teachers 10000]
        [--records-per-teacher 20] [--chunk 50] [--broker redis://127.0.0.1:6379/0 | embedded]
        [--workers 1,2]

Prepares the data as bench_render.py does (scripts/make_sample.py into a
temporary folder, a fresh SQLite database, a throwaway key, every teacher
issued as of 2026-11-23) and cuts the fonts once. Then, for each worker
count: a fresh data folder (the cut fonts copied in, so no run pays for
them, and no PDF yet), that many `celery -A issuer.office.tasks worker
--concurrency 1` processes on a queue of the run's own, started and ready
before the clock starts; the job is started as the web starts it
(issuer.office.jobs.start with issuer.office.tasks.enqueue) and timed until the jobs
table says done. Each worker's process pays its own Renderer once (the
cold start, ~1-2 s) and keeps it from chunk to chunk.

Printed per run: the wall time, PDFs/s, how many chunks each worker took,
the CPU the workers used (their rusage, read when they exit) and what other
processes on the machine used meanwhile (/proc/stat), since other work on
this shared machine moves every figure; then two workers' speed-up over one.

Prints figures only: never fails on speed. Exits non-zero only on a real
error (the job failed, a PDF failed or is missing, a worker did not start).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_render import PASSPHRASE, children_cpu, machine_cpu, prepare  # noqa: E402
from benchmarks.common import BenchError, cpu_name, run_main, say  # noqa: E402
from issuer.certificates.keystore import PASSPHRASE_ENV  # noqa: E402
from issuer.config import load_settings  # noqa: E402
from issuer.db import make_engine, read_session  # noqa: E402
from issuer.office import jobs, tasks  # noqa: E402
from issuer.office.staff import Scope  # noqa: E402
from issuer.pdf import fonts as fontlib  # noqa: E402
from verifier.profiles import load_profile  # noqa: E402

PROFILE_ID = "horgos-7"
SCOPE = Scope(0, "bench", "auditor", None)


def redis_up(url: str) -> bool:
    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=2):
            return True
    except OSError:
        return False


def run_once(
    url: str, folder: Path, fonts: Path, broker: str | None, n_workers: int, chunk: int, expect: int
) -> dict:
    data = folder / f"run-{n_workers}w"
    shutil.copytree(fonts, data / "fonts")
    queue = f"ecert-bench-{uuid.uuid4().hex[:8]}"
    os.environ.update(DATABASE_URL=url, ECERT_DATA_DIR=str(data), ECERT_CELERY_QUEUE=queue)
    if broker:
        os.environ["CELERY_BROKER_URL"] = broker
    else:
        os.environ.pop("CELERY_BROKER_URL", None)
    logs, procs = [data / f"worker{i + 1}.log" for i in range(n_workers)], []
    engine = make_engine(url)
    try:
        for i, log in enumerate(logs):
            with open(log, "w") as out:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "issuer.office.tasks",
                            "worker",
                            "--concurrency",
                            "1",
                            "--pool",
                            "solo" if not broker else "prefork",
                            "--hostname",
                            f"w{i + 1}@%h",
                            "--queues",
                            queue,
                            "--loglevel",
                            "info",
                            "--without-gossip",
                            "--without-mingle",
                            "--without-heartbeat",
                        ],
                        stdout=out,
                        stderr=out,
                        env=dict(os.environ),
                        cwd=ROOT,
                    )
                )
        _wait_ready(procs, logs)
        kids0, (busy0, steal0) = children_cpu(), machine_cpu()
        t0 = time.perf_counter()
        job_id = jobs.start(engine, load_settings(), SCOPE, "render", None, tasks.enqueue, chunk=chunk)
        while True:
            with read_session(engine) as s:
                info = jobs.describe(jobs.get(s, SCOPE, job_id))
            if info["state"] in ("done", "failed"):
                break
            if any(p.poll() is not None for p in procs):
                raise BenchError(f"a worker exited: {_tails(logs)}")
            time.sleep(0.2)
        seconds = time.perf_counter() - t0
        busy1, steal1 = machine_cpu()
    finally:
        for p in procs:
            tasks.stop_worker(p, timeout=60)
        engine.dispose()
        if broker and broker.startswith("redis"):  # the run's queue leaves nothing behind
            import redis

            with redis.Redis.from_url(broker) as r:
                r.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    workers_cpu = children_cpu() - kids0  # the workers were reaped above: their whole lives
    if info["state"] != "done" or info["counts"]["rendered"] != expect or info["failed"]:
        raise BenchError(
            f"{n_workers} worker(s): {info['state']} {info['counts']} {info['error']} {info['failed'][:3]}"
        )
    pdfs = len(list(jobs.pdf_dir(load_settings()).glob("*.pdf")))
    if pdfs != expect:
        raise BenchError(f"{n_workers} worker(s): {pdfs} PDF files for {expect} certificates")
    return {
        "workers": n_workers,
        "seconds": seconds,
        "chunks": info["workers"],
        "workers_cpu": workers_cpu,
        "others_cpu": busy1 - busy0 - workers_cpu,
        "steal": steal1 - steal0,
        "n": expect,
    }


def _wait_ready(procs, logs, timeout: float = 60) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if all(" ready." in log.read_text(errors="replace") for log in logs):
            return
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.2)
    raise BenchError(f"the workers did not start: {_tails(logs)}")


def _tails(logs) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in logs if p.exists())


def report(r: dict) -> None:
    cores = os.cpu_count() or 1
    chunks = ", ".join(f"{w.split('@')[0]} {n}" for w, n in sorted(r["chunks"].items()))
    say(
        f"  {r['workers']} worker{'s' if r['workers'] > 1 else ' '}  {r['seconds']:8.1f} s  "
        f"{r['n'] / r['seconds']:6.2f} PDFs/s   chunks taken: {chunks}"
    )
    say(
        f"             CPU of the workers {r['workers_cpu']:.1f} s ({r['workers_cpu'] / r['n'] * 1000:.0f} ms/PDF, "
        f"incl. start-up); other processes meanwhile {r['others_cpu']:.1f} s "
        f"({r['others_cpu'] / r['seconds'] / cores:.0%} of {cores} cores), stolen {r['steal']:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", type=int, default=10_000)
    ap.add_argument("--records-per-teacher", type=float, default=20)
    ap.add_argument("--chunk", type=int, default=jobs.CHUNK["render"], help="certificates per chunk task")
    ap.add_argument(
        "--broker",
        default="redis://127.0.0.1:6379/0",
        help="a Celery broker URL, or 'embedded' (the SQLite broker in the data folder)",
    )
    ap.add_argument("--workers", default="1,2", help="worker counts to compare")
    args = ap.parse_args(argv)
    broker = None if args.broker == "embedded" else args.broker
    if broker and broker.startswith("redis") and not redis_up(broker):
        raise BenchError(f"Redis at {broker} is not reachable (or use --broker embedded)")
    os.environ[PASSPHRASE_ENV] = PASSPHRASE
    say(
        f"bench_jobs {date.today().isoformat()}  Python {platform.python_version()}  "
        f"{platform.machine()} {cpu_name()} ×{os.cpu_count()}  broker {broker or 'embedded (SQLite)'}"
    )
    profile = load_profile(PROFILE_ID)
    results = []
    with tempfile.TemporaryDirectory(prefix="ecert-bench-jobs-") as tmp:
        folder = Path(tmp)
        say(f"\n== {args.teachers:,} teachers: sample data, import, key, issuance ==")
        os.environ["ECERT_KEYS_DIR"] = str(folder / "keys")
        url = prepare(folder, args.teachers, args.records_per_teacher, profile)
        fontlib.prepare(folder / "fonts")
        say(
            f"\n== a render job of {args.teachers:,} certificates in chunks of {args.chunk}, "
            "each worker count into a fresh folder =="
        )
        for n in (int(x) for x in args.workers.split(",")):
            results.append(run_once(url, folder, folder / "fonts", broker, n, args.chunk, args.teachers))
            report(results[-1])
    by = {r["workers"]: r for r in results}
    if 1 in by and 2 in by:
        say(
            f"\n  two workers: {by[1]['seconds'] / by[2]['seconds']:.2f}× the speed of one "
            f"(at most 2× on {os.cpu_count()} cores with nothing else running)"
        )
    return 0


if __name__ == "__main__":
    run_main(main, "bench_jobs")
