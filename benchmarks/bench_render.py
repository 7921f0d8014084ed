#!/usr/bin/env python3
"""Speed and size of the PDF certificates: one Renderer in this process, and
the batch as `ecert render` runs it (parallel spawned workers).

    .venv/bin/python benchmarks/bench_render.py [--teachers 600]
        [--records-per-teacher 20] [--warm 200] [--baseline 20] [--profile]

Generates the sample files (scripts/make_sample.py, deterministic) into a
temporary folder, imports them into a fresh SQLite file (migrate; projects,
roster with registration, records, each in its own write_session), creates
a signing key and issues every teacher's certificate (as_of 2026-11-23).
The certificates rendered are the batch's own query,
issuer.pdf.batch.current_certificates. Then:

  - cold, in a fresh process (spawn, as each batch worker starts): importing
    WeasyPrint, Renderer() with the fonts already cut (as the parent of a
    batch leaves them), the first render and the second;
  - warm, in this process, one Renderer over --warm certificates: ms per
    PDF, split into document.view (token, summary, the QR matrix) and
    Renderer.render, itself split at WeasyPrint's two public calls
    (HTML.render: parse, style, layout; Document.write_pdf: drawing, font
    subsetting, the PDF, the QR finisher) by thin timing wrappers; the
    PDFs' size; this process's RSS growth over the loop. Beside it, the
    same run's baseline: WeasyPrint's default call on a one-line Chinese
    page, so the figure can be compared on another machine;
  - the batch: issuer.pdf.batch.BatchRenderer(...).run(current_certificates)
    with 1 and 2 workers, each into a fresh folder (cold: includes starting
    the workers), then again into the same folder (all unchanged: the skip
    path). The warm rate is taken from the times at which PDFs complete (the
    run's progress callback), after the first 4 per worker; with 2 workers it
    is checked against a second estimate, (N - N/2) / (t(N) - t(N/2)), from a
    batch of the first half of the certificates into another fresh folder.
    The workers' peak RSS (VmHWM) is read from /proc while they run, and
    beside each run the CPU that other processes used meanwhile (/proc/stat),
    since other work on the machine moves every figure. Last, a ceiling
    that it does not move: 2 cores / the CPU per warm PDF of this process.

The issue's targets, on a 2-core machine: at least 25 PDFs/s warm with 2
workers (10,000 certificates in under 7 minutes) and under 150 KB (of 1,024
bytes) per PDF. With --profile, also a cProfile of --profile-count warm
renders (top 10 by cumulative and by own time); not run by default.

Prints figures only: it never fails on speed. It exits non-zero only on a
real error (an import refused, a teacher not issued, a PDF that fails or is
not written, a second run that is not all unchanged).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import itertools
import os
import platform
import pstats
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import BenchError, cpu_name, run_main, say, timed  # noqa: E402
from issuer.certificates.docsigning import DocumentKey  # noqa: E402
from issuer.certificates.issuance import IssueOptions, Issuer  # noqa: E402
from issuer.certificates.keystore import PASSPHRASE_ENV, Keystore  # noqa: E402
from issuer.db import make_engine, migrate, write_session  # noqa: E402
from issuer.ledger.importing.projects import import_projects  # noqa: E402
from issuer.ledger.importing.records import import_records  # noqa: E402
from issuer.ledger.importing.roster import import_roster  # noqa: E402
from issuer.pdf import fonts as fontlib  # noqa: E402
from issuer.pdf.batch import BatchRenderer, Job, current_certificates  # noqa: E402
from issuer.pdf.document import view  # noqa: E402
from issuer.pdf.render import Renderer  # noqa: E402
from issuer.pdf.sealing import Sealer  # noqa: E402
from scripts.make_sample import generate  # noqa: E402
from verifier.profiles import load_profile  # noqa: E402

PROFILE_ID = "horgos-7"
AS_OF = date(2026, 11, 23)  # the credit sheets' date, fixed so that runs compare
BASE_URL = "HTTP://127.0.0.1:5000"
ACTOR = "bench"
PASSPHRASE = "bench-only-throwaway-passphrase"  # a temp key in a temp folder
TARGET_RATE = 25.0  # PDFs/s, warm, 2 workers
TARGET_BATCH, TARGET_MINUTES = 10_000, 7.0
TARGET_KB = 150.0
KB = 1024  # as `ecert pdf` prints sizes
WARM_SKIP_PER_WORKER = 4  # completions per worker left out of the warm rate
BASELINE_PAGE = (
    "<html><body><p style=\"font-family: 'Noto Sans CJK SC'\">"
    "教师继续教育学分证书 · 霍尔果斯市教育局</p></body></html>"
)


def current_rss_mb() -> float:
    try:  # Linux; elsewhere the figures stay empty
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def vm_hwm_mb(pid: int | str = "self") -> float:
    """A process's high-water RSS (Linux VmHWM); NaN where there is none."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return float("nan")


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy, and stolen by the
    hypervisor, since boot (Linux /proc/stat; NaN elsewhere)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = f
    return (user + nice + system + irq + softirq) / tick, steal / tick


def children_cpu() -> float:
    """User + system CPU seconds of this process's reaped children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# -- data and database -----------------------------------------------------


def prepare(folder: Path, teachers: int, per_teacher: float, profile) -> tuple[str, DocumentKey]:
    """Sample files, a fresh SQLite database with them imported, a signing
    key (with its PDF-signing key) and every teacher issued; the database's
    URL and the PDF-signing key."""
    counts, s = timed(lambda: generate(folder / "files", teachers=teachers, records_per_teacher=per_teacher))
    say(f"  generated {counts['roster.csv']:,} teachers, {counts['records.csv']:,} records in {s:.2f} s")
    files = {k: folder / "files" / f"{k}.csv" for k in ("projects", "roster", "records")}
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        migrate(engine)
        for name, work in (
            ("projects", lambda s_: import_projects(s_, files["projects"])),
            ("roster", lambda s_: import_roster(s_, files["roster"], profile)),
            ("records", lambda s_: import_records(s_, files["records"])),
        ):
            with write_session(engine) as session:
                result = work(session)
            if result.created != counts[f"{name}.csv"]:
                raise BenchError(f"{name} import: {result.summary()}")
        store = Keystore(folder / "keys", actor=ACTOR)
        with write_session(engine) as session:
            store.create(session, profile.issuer_code, profile.issuer_name)
            document_key = store.document_key(session, profile.issuer_code)
        summary = Issuer(engine, profile, store, BASE_URL, ACTOR).run(IssueOptions(as_of=AS_OF))
        if summary.issued != counts["roster.csv"] or summary.refused:
            raise BenchError(
                f"issued {summary.issued:,} of {counts['roster.csv']:,}; refused {summary.refused[:3]}"
            )
        say(
            f"  imported and issued {summary.issued:,} certificates in {time.perf_counter() - t0:.2f} s "
            "(not measured against any target)"
        )
    finally:
        engine.dispose()
    return url, document_key


def first_certificates(engine, profile, limit: int | None) -> Iterator:
    """The batch's own query, the first `limit` rows (all with None); its
    session is closed when the slice ends."""
    rows = current_certificates(engine, profile, None)
    try:
        yield from itertools.islice(rows, limit)
    finally:
        rows.close()


def as_job(cert) -> Job:
    """A certificate as the batch hands it to a worker (plain, picklable)."""
    return Job(cert.number, cert.token, cert.state, cert.check_code, cert.summary, key="")


# -- cold: a fresh process -------------------------------------------------


def bench_cold(font_cache: Path, job: Job) -> dict:
    """_cold_steps in a new interpreter (spawn), as a batch worker starts."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        out = pool.submit(_cold_steps, str(font_cache), job).result()
    say("\n== cold: a fresh process (spawn), as each batch worker starts; fonts already cut ==")
    for name, key in (
        ("import weasyprint", "import"),
        ("Renderer(font_cache)", "renderer"),
        ("first render (view + render)", "first"),
        ("second render", "second"),
    ):
        say(f"  {name:<30}{out[key] * 1000:8.0f} ms")
    cold = out["renderer"] + out["first"]
    say(
        f"  {'= Renderer() + first render':<30}{cold * 1000:8.0f} ms  "
        f"(+ import {out['import'] * 1000:.0f} ms); RSS of the process then {out['rss']:.0f} MB"
    )
    out["cold"] = cold
    return out


def _cold_steps(font_cache: str, job: Job) -> dict:
    """The child: every step's wall time, in seconds."""
    profile = load_profile(PROFILE_ID)
    out: dict = {}
    t0 = time.perf_counter()
    import weasyprint  # noqa: F401  (what the first Renderer() pays otherwise)

    t1 = time.perf_counter()
    renderer = Renderer(Path(font_cache))
    t2 = time.perf_counter()
    renderer.render(view(job, profile, BASE_URL))
    t3 = time.perf_counter()
    renderer.render(view(job, profile, BASE_URL))
    t4 = time.perf_counter()
    out.update(
        zip(("import", "renderer", "first", "second"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True)
    )
    out["rss"] = current_rss_mb()
    renderer.close()
    return out


# -- warm: one Renderer in this process ------------------------------------


def bench_baseline(runs: int) -> dict:
    """WeasyPrint's default call on a one-line Chinese page: ms per PDF,
    the mean of `runs` after one not counted."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    def once() -> bytes:
        return HTML(string=BASELINE_PAGE).write_pdf(font_config=FontConfiguration())

    once()
    gc.collect()
    t0 = time.perf_counter()
    sizes = [len(once()) for _ in range(runs)]
    return {"ms": (time.perf_counter() - t0) / runs * 1000, "kb": statistics.mean(sizes) / KB}


@contextmanager
def weasyprint_phases() -> Iterator[dict[str, float]]:
    """Seconds spent in HTML.render and Document.write_pdf while inside,
    by thin wrappers on WeasyPrint's two public calls (removed on exit)."""
    from weasyprint import HTML
    from weasyprint.document import Document

    spent = {"HTML.render": 0.0, "Document.write_pdf": 0.0}
    originals = {
        "HTML.render": (HTML, "render", HTML.render),
        "Document.write_pdf": (Document, "write_pdf", Document.write_pdf),
    }

    def wrap(name: str, fn: Callable) -> Callable:
        def timed_call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0

        return timed_call

    for name, (cls, attr, fn) in originals.items():
        setattr(cls, attr, wrap(name, fn))
    try:
        yield spent
    finally:
        for cls, attr, fn in originals.values():
            setattr(cls, attr, fn)


def warm_loop(renderer: Renderer, certs: list, profile) -> dict:
    """view and render of every certificate, each PDF's times and size."""
    views, renders, sizes = [], [], []
    rss0 = current_rss_mb()
    busy0, _ = machine_cpu()
    with weasyprint_phases() as phases:
        c0, t0 = time.process_time(), time.perf_counter()
        for cert in certs:
            a = time.perf_counter()
            v = view(cert, profile, BASE_URL)
            b = time.perf_counter()
            pdf = renderer.render(v)
            views.append(b - a)
            renders.append(time.perf_counter() - b)
            sizes.append(len(pdf))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    others = machine_cpu()[0] - busy0 - cpu
    if len(sizes) != len(certs) or not all(sizes):
        raise BenchError("a warm render gave no PDF")
    return {
        "wall": wall,
        "cpu": cpu,
        "others_cpu": others,
        "last_pdf": pdf,
        "view": views,
        "render": renders,
        "sizes": sizes,
        "phases": dict(phases),
        "rss_before": rss0,
        "rss_after": current_rss_mb(),
    }


def bench_warm(
    certs: list, profile, font_cache: Path, baseline_runs: int, document_key: DocumentKey | None
) -> dict:
    base = bench_baseline(baseline_runs)
    (renderer, first_s) = _first_render(font_cache, certs[0], profile, document_key)
    gc.collect()
    out = warm_loop(renderer, certs, profile)
    out.update(baseline=base, first=first_s, renderer=renderer)
    report_warm(out, len(certs), "signed (PAdES)" if document_key else "unsigned")
    return out


def _first_render(
    font_cache: Path, cert, profile, document_key: DocumentKey | None
) -> tuple[Renderer, float]:
    """This process's Renderer (WeasyPrint already imported) and its first
    render, in seconds together."""
    t0 = time.perf_counter()
    sealer = Sealer(document_key, profile.issuer_name) if document_key else None
    renderer = Renderer(font_cache, sealer=sealer)
    renderer.render(view(cert, profile, BASE_URL))
    return renderer, time.perf_counter() - t0


def report_warm(w: dict, n: int, kind: str) -> None:
    base, per = w["baseline"], w["wall"] / n * 1000
    view_ms, render_ms = statistics.mean(w["view"]) * 1000, statistics.mean(w["render"]) * 1000
    html_ms, pdf_ms = (w["phases"][k] / n * 1000 for k in ("HTML.render", "Document.write_pdf"))
    every = sorted(v + r for v, r in zip(w["view"], w["render"], strict=True))
    say(f"\n== warm, in this process: one Renderer over {n:,} certificates, {kind} ==")
    say(f"  Renderer() + first render here (WeasyPrint imported) {w['first'] * 1000:6.0f} ms")
    say(
        f"  baseline: WeasyPrint's default call, a one-line Chinese page  {base['ms']:6.1f} ms/PDF "
        f"({base['kb']:.0f} KB; new FontConfiguration each call)"
    )
    say(
        f"  {'certificate, view + render':<30}{per:8.1f} ms/PDF  {1000 / per:5.2f} PDFs/s on one core   "
        f"{per / base['ms']:.1f}× the baseline"
    )
    say(
        f"    CPU {w['cpu'] / n * 1000:.1f} ms/PDF (other processes meanwhile "
        f"{w['others_cpu'] / w['wall'] / os.cpu_count():.0%} of the machine); "
        f"median {statistics.median(every) * 1000:.0f} ms, "
        f"95th percentile {every[int(0.95 * (n - 1))] * 1000:.0f} ms, max {every[-1] * 1000:.0f} ms"
    )
    for name, ms in (
        ("view (token, summary, QR matrix)", view_ms),
        ("Renderer.render", render_ms),
        ("  HTML.render (parse, style, layout)", html_ms),
        ("  Document.write_pdf (draw, fonts, PDF)", pdf_ms),
        ("  the rest (Jinja, QR box lookup, signing)", render_ms - html_ms - pdf_ms),
    ):
        say(f"    {name:<40}{ms:7.1f} ms  {ms / per:4.0%}")
    sizes = [s / KB for s in w["sizes"]]
    say(
        f"  PDF size: mean {statistics.mean(sizes):.1f} KB, max {max(sizes):.1f} KB, "
        f"min {min(sizes):.1f} KB (KB = 1,024 bytes)"
    )
    say(
        "  the last PDF's bytes: "
        + ", ".join(f"{name} {size / KB:.1f} KB" for name, size in pdf_parts(w["last_pdf"]).items())
    )
    say(
        f"  RSS of this process: {w['rss_before']:.0f} MB before the loop, {w['rss_after']:.0f} MB after "
        f"({w['rss_after'] - w['rss_before']:+.1f} MB over {n:,} PDFs)"
    )


def pdf_parts(pdf: bytes) -> dict[str, int]:
    """Where a PDF's bytes go, by stream: embedded fonts, streams written
    without compression, the other (compressed) streams, and the rest. A
    rough reading of the objects' dictionaries, for the report only."""
    parts = {"embedded fonts": 0, "uncompressed streams": 0, "compressed streams": 0}
    for m in re.finditer(rb"\d+ 0 obj\s*<<(.*?)>>\s*stream\r?\n", pdf, re.S):
        length = re.search(rb"/Length (\d+)", m.group(1))
        if not length:
            continue
        kind = (
            "embedded fonts"
            if re.search(rb"/Subtype /(OpenType|Type1C|CIDFontType0C)|/Length1", m.group(1))
            else "compressed streams"
            if b"/Filter" in m.group(1)
            else "uncompressed streams"
        )
        parts[kind] += int(length.group(1))
    parts["the rest"] = len(pdf) - sum(parts.values())
    return parts


def profile_warm(renderer: Renderer, certs: list, profile) -> None:
    """cProfile of view + render over `certs`: top 10 by cumulative and by
    own time (the profiler's overhead inflates Python-heavy code)."""
    prof = cProfile.Profile()
    prof.enable()
    for cert in certs:
        renderer.render(view(cert, profile, BASE_URL))
    prof.disable()
    say(f"\n== cProfile of {len(certs)} warm renders (view + render), top 10 ==")
    for order in ("cumulative", "tottime"):
        stats = pstats.Stats(prof, stream=sys.stdout)
        stats.strip_dirs().sort_stats(order).print_stats(10)


# -- the batch, as `ecert render` ------------------------------------------


class BatchProbe:
    """The progress callback: when each PDF completes and, every few, the
    spawned workers' peak RSS (VmHWM from /proc, Linux only)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.stamps: list[float] = []
        self.worker_peak: dict[int, float] = {}

    def __call__(self, n: int) -> None:
        self.stamps.extend([time.perf_counter() - self.t0] * n)
        if len(self.stamps) % 8 == 1:
            self.sample_workers()

    def sample_workers(self) -> None:
        for pid in _spawned_children():
            peak = vm_hwm_mb(pid)
            if peak == peak:  # not NaN: the worker is still there
                self.worker_peak[pid] = max(self.worker_peak.get(pid, 0.0), peak)


def _spawned_children() -> list[int]:
    pids = []
    for f in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):  # the child is gone, or its list half-written
            pids += [int(p) for p in f.read_text().split()]
    return [p for p in pids if b"spawn_main" in _cmdline(p)]  # not the resource tracker


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def run_batch(
    url: str,
    profile,
    font_cache: Path,
    out: Path,
    workers: int,
    limit: int | None,
    expect: dict[str, int],
    document_key: DocumentKey | None,
) -> dict:
    """One BatchRenderer(...).run, timed from construction; the summary must
    be `expect` (rendered, unchanged) with nothing failed."""
    engine = make_engine(url)
    try:
        gc.collect()
        probe, cpu0, kids0, (busy0, steal0) = BatchProbe(), time.process_time(), children_cpu(), machine_cpu()
        batch = BatchRenderer(profile, BASE_URL, font_cache, out, workers=workers, document_key=document_key)
        summary = batch.run(first_certificates(engine, profile, limit), progress=probe)
        seconds = time.perf_counter() - probe.t0
        busy1, steal1 = machine_cpu()
    finally:
        engine.dispose()
    got = {"rendered": summary.rendered, "unchanged": summary.unchanged}
    if got != expect or summary.failed:
        raise BenchError(
            f"{workers} worker(s) into {out.name}: {got}, failed {summary.failed[:3]}; expected {expect}"
        )
    parent, kids = time.process_time() - cpu0, children_cpu() - kids0
    return {
        "seconds": seconds,
        "stamps": probe.stamps,
        "worker_peak": probe.worker_peak,
        "parent_cpu": parent,
        "workers_cpu": kids,
        "others_cpu": busy1 - busy0 - parent - kids,
        "steal": steal1 - steal0,
    }


def warm_rate(stamps: list[float], workers: int) -> float:
    """PDFs/s between the (4 × workers)-th completion and the last: the
    steady state, without the workers' start-up and first renders."""
    k = WARM_SKIP_PER_WORKER * workers
    if len(stamps) <= k + 1 or stamps[-1] <= stamps[k - 1]:
        return float("nan")
    return (len(stamps) - k) / (stamps[-1] - stamps[k - 1])


def bench_batch(
    url: str, profile, font_cache: Path, folder: Path, workers: int, n: int, dk: DocumentKey | None
) -> dict:
    """Into a fresh folder (all rendered), then the same again (all unchanged)."""
    out = folder / f"out-{workers}w-{'signed' if dk else 'unsigned'}"
    fresh = run_batch(url, profile, font_cache, out, workers, None, {"rendered": n, "unchanged": 0}, dk)
    again = run_batch(url, profile, font_cache, out, workers, None, {"rendered": 0, "unchanged": n}, dk)
    pdfs = sorted(out.glob("*.pdf"))
    if len(pdfs) != n:
        raise BenchError(f"{workers} worker(s): {len(pdfs):,} PDF files for {n:,} certificates")
    sizes = [p.stat().st_size / KB for p in pdfs]
    return {
        "workers": workers,
        "signed": dk is not None,
        "document_key": dk,
        "n": n,
        "fresh": fresh,
        "again": again,
        "warm": warm_rate(fresh["stamps"], workers),
        "kb_mean": statistics.mean(sizes),
        "kb_max": max(sizes),
    }


def half_batch_rate(
    url: str, profile, font_cache: Path, folder: Path, full: dict
) -> tuple[int, float, float]:
    """The second warm estimate: the first half of the certificates into a
    fresh folder with the same workers; (N - N/2) / (t(N) - t(N/2))."""
    half = full["n"] // 2
    run = run_batch(
        url,
        profile,
        font_cache,
        folder / f"out-{full['workers']}w-half",
        full["workers"],
        half,
        {"rendered": half, "unchanged": 0},
        full["document_key"],
    )
    dt = full["fresh"]["seconds"] - run["seconds"]
    return half, run["seconds"], (full["n"] - half) / dt if dt > 0 else float("nan")


def report_batch(b: dict) -> None:
    f, a, n, w = b["fresh"], b["again"], b["n"], b["workers"]
    cpu = f["parent_cpu"] + f["workers_cpu"]
    say(
        f"  {w} worker{'s' if w > 1 else ' '} {'signed  ' if b['signed'] else 'unsigned'} fresh folder  "
        f"{f['seconds']:7.1f} s  "
        f"{n / f['seconds']:6.2f} PDFs/s   "
        f"warm {b['warm']:6.2f} PDFs/s (after the first {WARM_SKIP_PER_WORKER * w})"
    )
    say(
        f"            CPU: this process {f['parent_cpu']:.1f} s, worker processes {f['workers_cpu']:.1f} s; "
        f"{cpu / n * 1000:.0f} ms/PDF in all, {cpu / f['seconds'] / os.cpu_count():.0%} of "
        f"{os.cpu_count()} cores"
    )
    say(
        f"            other processes on the machine meanwhile: {f['others_cpu']:.1f} CPU s "
        f"({f['others_cpu'] / f['seconds'] / os.cpu_count():.0%} of it), stolen by the hypervisor "
        f"{f['steal']:.1f} s"
    )
    say(f"            again, all unchanged {a['seconds']:7.2f} s  {n / a['seconds']:8,.0f} certificates/s")
    if f["worker_peak"]:
        peaks = ", ".join(f"{p:.0f}" for p in sorted(f["worker_peak"].values()))
        say(f"            workers' peak RSS (VmHWM): {peaks} MB")
    say(f"            PDF files: mean {b['kb_mean']:.1f} KB, max {b['kb_max']:.1f} KB")


# -- against the targets ---------------------------------------------------


def report_targets(b2: dict, second_estimate: float, cpu_ms: float) -> None:
    """Each figure beside its target; cpu_ms: CPU per warm PDF in this
    process, for the rate the workers would reach with the cores to
    themselves."""
    n, secs, workers = b2["n"], b2["fresh"]["seconds"], b2["workers"]
    ceiling = min(workers, os.cpu_count() or 1) * 1000 / cpu_ms
    overhead = max(secs - n / b2["warm"], 0.0)  # start-up beyond the steady state
    say(f"\n== against the targets ({workers} workers, {os.cpu_count()} cores) ==")
    for name, rate in (
        ("warm PDFs/s (completion times)", b2["warm"]),
        ("warm PDFs/s (two batch sizes)", second_estimate),
        (f"ceiling: {workers} cores ÷ {cpu_ms:.0f} ms CPU", ceiling),
    ):
        say(f"  {name:<38}{rate:8.2f}      target ≥ {TARGET_RATE:.0f}: {rate / TARGET_RATE:.2f}× the target")
    for name, rate in (("at the warm rate", b2["warm"]), ("at the ceiling", ceiling)):
        minutes = (overhead + TARGET_BATCH / rate) / 60
        say(
            f"  {f'{TARGET_BATCH:,} PDFs {name}':<38}{minutes:8.1f} min  target < {TARGET_MINUTES:.0f} min: "
            f"{minutes / TARGET_MINUTES:.2f}× the target"
        )
    say(f"  {'':<38}(start-up {overhead:.1f} s = {secs:.1f} s − {n:,} PDFs at the warm rate)")
    for name, kb in (("mean", b2["kb_mean"]), ("max", b2["kb_max"])):
        say(
            f"  {f'PDF size, {name} of {n:,}':<38}{kb:8.1f} KB   target < {TARGET_KB:.0f} KB: "
            f"{kb / TARGET_KB:.2f}× the target"
        )


# -- main ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--teachers", type=int, default=600, help="certificates to issue and render")
    ap.add_argument("--records-per-teacher", type=float, default=20)
    ap.add_argument("--warm", type=int, default=200, help="certificates in the warm in-process loop")
    ap.add_argument("--baseline", type=int, default=20, help="PDFs of the one-line baseline page")
    ap.add_argument("--profile", action="store_true", help="also cProfile some warm renders")
    ap.add_argument("--profile-count", type=int, default=30)
    args = ap.parse_args(argv)
    os.environ[PASSPHRASE_ENV] = PASSPHRASE
    say(
        f"bench_render {date.today().isoformat()}  Python {platform.python_version()}  "
        f"WeasyPrint {version('weasyprint')}  pydyf {version('pydyf')}  qrcode {version('qrcode')}  "
        f"SQLite {sqlite3.sqlite_version}  {platform.machine()} {cpu_name()} ×{os.cpu_count()}"
    )
    load0 = _load()
    profile = load_profile(PROFILE_ID)
    with tempfile.TemporaryDirectory(prefix="ecert-bench-render-") as tmp:
        folder = Path(tmp)
        say(f"\n== {args.teachers:,} teachers: sample data, import, key, issuance ==")
        url, document_key = prepare(folder, args.teachers, args.records_per_teacher, profile)
        run_all(args, url, profile, folder, document_key)
    say(
        f"\nload average at the end {_load()} (at the start {load0}; other work on the machine "
        "slows every figure)"
    )
    return 0


def run_all(args, url: str, profile, folder: Path, dk: DocumentKey) -> None:
    font_cache = folder / "fonts"
    engine = make_engine(url)
    try:
        certs = list(first_certificates(engine, profile, None))
    finally:
        engine.dispose()
    _, cut_s = timed(lambda: fontlib.prepare(font_cache))
    say(f"  {len(certs):,} current certificates; the fonts cut once into the cache in {cut_s:.2f} s")
    bench_cold(font_cache, as_job(certs[0]))
    plain = bench_warm(certs[: args.warm], profile, font_cache, args.baseline, None)
    plain["renderer"].close()
    warm = bench_warm(certs[: args.warm], profile, font_cache, args.baseline, dk)
    cost = warm["cpu"] / plain["cpu"] - 1
    say(f"  signing costs {cost:+.0%} of a warm PDF's CPU (same run, same certificates)")
    if args.profile:
        profile_warm(warm["renderer"], certs[: args.profile_count], profile)
    warm["renderer"].close()
    say(
        f"\n== the batch, as `ecert render`: {len(certs):,} certificates, each worker count into a "
        "fresh folder, then again =="
    )
    batches = []
    for workers in (1, 2):
        for key in (None, dk):
            batches.append(bench_batch(url, profile, font_cache, folder, workers, len(certs), key))
            report_batch(batches[-1])
    unsigned, signed = batches[-2]["warm"], batches[-1]["warm"]
    say(
        f"  2 workers warm: signed {signed:.2f} PDFs/s ÷ unsigned {unsigned:.2f} = {signed / unsigned:.2f} "
        f"(signing costs {unsigned / signed - 1:+.0%} of the time)"
    )
    half, half_s, second = half_batch_rate(url, profile, font_cache, folder, batches[-1])
    say(
        f"  2 workers, first {half:,} only, fresh folder {half_s:.1f} s → warm "
        f"({len(certs) - half:,}) / ({batches[-1]['fresh']['seconds']:.1f} s − {half_s:.1f} s) "
        f"= {second:.2f} PDFs/s"
    )
    report_targets(batches[-1], second, warm["cpu"] / len(warm["sizes"]) * 1000)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


if __name__ == "__main__":
    run_main(main, "bench_render")
