"""`ecert render`: every current certificate in scope to a PDF file, in
parallel processes, skipping those whose PDF would come out the same.

The parent streams certificates from the database and decides what to
skip from a manifest (number → the render key of the PDF there): each
stored PDF's tag in the store the PDFs go to (issuer/storage.py: the
output folder's `.ecert-render.json`, or each object's row in the
database); workers, each with one Renderer made at start, render the rest.
A failure on one certificate is reported and the batch goes on, except a
full disk: every later file would fail the same way, so the batch stops at
the first ENOSPC and says what was rendered, failed and not attempted.
Files are written through a temporary name and never left half-written;
temporary files a killed run left behind are removed at the next start.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, TypeVarTuple

from sqlalchemy import Engine, Select, func, select

from issuer.certificates.docsigning import DocumentKey
from verifier.profiles import RulesProfile, load_profile

from .. import storage as storelib
from ..db import read_session
from ..models import Certificate, Registration, Teacher
from ..storage import FolderStorage, Storage
from . import fonts as fontlib
from . import render
from .document import view
from .render import Renderer
from .sealing import Sealer

MANIFEST = storelib.TAGS  # a folder's manifest: its files' tags
RENDERED = "pdfs/"  # where render jobs put <number>.pdf in the service's store (issuer/office/jobs.py)


DISK_FULL = "磁盘已满"  # the start of a failure's reason that stops the batch


@dataclass
class RenderSummary:
    rendered: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_attempted: int = 0
    stopped: str | None = None  # why the batch stopped before its end


@dataclass(frozen=True)
class Job:
    """What a worker needs to render one certificate: plain data, picklable."""

    number: str
    token: str
    state: str
    check_code: str
    summary: str
    key: str  # has the fields of a Certificate that document.view reads


def render_key(token: str, state: str, check_code: str, summary: str, base_url: str, digest: str) -> str:
    """Everything a certificate's PDF depends on; same key, same PDF."""
    return hashlib.sha256(
        "\x1f".join((token, state, check_code, summary, base_url, digest)).encode()
    ).hexdigest()


def style_digest(font_cache: Path, document_key: DocumentKey | None = None) -> str:
    """The render key's part that is not the certificate's: template, fonts, signing certificate."""
    signed = document_key.fingerprint if document_key else "unsigned"
    return render.style_digest(fontlib.prepare(font_cache).digest + signed)


Ts = TypeVarTuple("Ts")


def current_in_scope(q: Select[*Ts], profile: RulesProfile, school: str | None) -> Select[*Ts]:
    """q narrowed to the cycle's current certificates, of one school if given."""
    q = q.where(
        Certificate.state == "current",
        Certificate.cycle == profile.cycle,
        Certificate.bureau_code == profile.issuer_code,
    )
    if school:
        q = (
            q.join(Registration, Registration.number == Certificate.number)
            .join(Teacher, Teacher.id == Registration.teacher_id)
            .where(Teacher.school_code == school)
        )
    return q


def current_certificates(engine: Engine, profile: RulesProfile, school: str | None) -> Iterator[Certificate]:
    with read_session(engine) as session:
        q = current_in_scope(select(Certificate), profile, school).order_by(Certificate.number)
        yield from session.scalars(q, execution_options={"yield_per": 1000})


def count_current(engine: Engine, profile: RulesProfile, school: str | None) -> int:
    with read_session(engine) as session:
        return (
            session.scalar(current_in_scope(select(func.count()).select_from(Certificate), profile, school))
            or 0
        )


class BatchRenderer:
    """`document_key`: the PDF-signing key every PDF is signed with (None
    only in benchmarks and layout tests); its certificate is part of each
    PDF's render key, so a new certificate renders them all again."""

    def __init__(
        self,
        profile: RulesProfile,
        base_url: str,
        font_cache: Path,
        out: Path | Storage,
        workers: int = 1,
        document_key: DocumentKey | None = None,
        prefix: str = "",
    ) -> None:
        """`out`: a folder (`ecert render --out`), or a store and the `prefix`
        of the PDFs' keys in it (a render job: the service's store, "pdfs/")."""
        self.profile, self.base_url, self.font_cache = profile, base_url, font_cache
        self.store = FolderStorage(out, write=_write) if isinstance(out, Path) else out
        self.prefix, self.workers = prefix, max(1, workers)
        self.document_key = document_key
        self.digest = style_digest(font_cache, document_key)
        self._saved: dict[str, str] = {}  # the manifest as loaded: what _save_manifest changes

    def run(
        self, certificates: Iterator[Certificate], progress: Callable[[int], None] = lambda n: None
    ) -> RenderSummary:
        if isinstance(self.store, FolderStorage):
            (self.store.root / self.prefix).mkdir(parents=True, exist_ok=True)
        self.store.clean(self.prefix)
        manifest = self._load_manifest()
        self._saved = dict(manifest)
        summary = RenderSummary()
        jobs = self._jobs(certificates, manifest, summary, progress)
        try:
            if self.workers == 1:
                self._serial(jobs, manifest, summary, progress)
            else:
                self._parallel(jobs, manifest, summary, progress)
            summary.not_attempted = sum(1 for _ in jobs)  # what a stop left (the generator's rest)
        finally:
            self._save_manifest(manifest)
        return summary

    def _jobs(
        self,
        certificates: Iterator[Certificate],
        manifest: dict[str, str],
        summary: RenderSummary,
        progress: Callable[[int], None],
    ) -> Iterator[Job]:
        for c in certificates:
            key = render_key(c.token, c.state, c.check_code, c.summary, self.base_url, self.digest)
            if manifest.get(c.number) == key:  # the manifest holds PDFs that are there
                summary.unchanged += 1
                progress(1)
                continue
            yield Job(c.number, c.token, c.state, c.check_code, c.summary, key)

    def _serial(
        self,
        jobs: Iterator[Job],
        manifest: dict[str, str],
        summary: RenderSummary,
        progress: Callable[[int], None],
    ) -> None:
        init_worker(*self._worker_args())
        for job in jobs:
            self._record(job, render_one(job), manifest, summary)
            progress(1)
            if summary.stopped:
                return

    def _parallel(
        self,
        jobs: Iterator[Job],
        manifest: dict[str, str],
        summary: RenderSummary,
        progress: Callable[[int], None],
    ) -> None:
        ctx = multiprocessing.get_context("spawn")  # no inherited database connections
        with ProcessPoolExecutor(
            self.workers,
            mp_context=ctx,
            initializer=_init_pool_worker,
            initargs=self._worker_args(),
        ) as pool:
            pending: dict[Future[str | None], Job] = {}
            for job in jobs:
                pending[pool.submit(render_one, job)] = job
                if len(pending) >= self.workers * 4:  # bounded: memory stays flat
                    self._drain(pending, manifest, summary, progress, FIRST_COMPLETED)
                if summary.stopped:
                    break
            while pending:
                self._drain(pending, manifest, summary, progress, FIRST_COMPLETED)

    def _worker_args(self) -> tuple[str, str, str, Storage, DocumentKey | None, str]:
        return (
            self.profile.id,
            self.base_url,
            str(self.font_cache),
            self.store,
            self.document_key,
            self.prefix,
        )

    def _drain(
        self,
        pending: dict[Future[str | None], Job],
        manifest: dict[str, str],
        summary: RenderSummary,
        progress: Callable[[int], None],
        how: str,
    ) -> None:
        done, _ = wait(pending, return_when=how)
        for fut in done:
            job = pending.pop(fut)
            try:
                error = fut.result()
            except Exception as e:  # a dead worker: report it, keep going
                error = f"{type(e).__name__}: {e}"
            self._record(job, error, manifest, summary)
            progress(1)

    def _record(self, job: Job, error: str | None, manifest: dict[str, str], summary: RenderSummary) -> None:
        if error:
            summary.failed.append((job.number, error))
            manifest.pop(job.number, None)
            if error.startswith(DISK_FULL):
                summary.stopped = error
        else:
            summary.rendered += 1
            manifest[job.number] = job.key

    def key_of(self, number: str) -> str:
        return f"{self.prefix}{number}.pdf"

    def _load_manifest(self) -> dict[str, str]:
        """number → render key, of the PDFs the store holds under the prefix."""
        manifest = {}
        for key, stat in self.store.list(self.prefix):
            number = key[len(self.prefix) :].removesuffix(".pdf")
            if stat.tag and key.endswith(".pdf") and "/" not in number:
                manifest[number] = stat.tag
        return manifest

    def _save_manifest(self, manifest: dict[str, str]) -> None:
        """The tags of what this run changed (another run's PDFs keep theirs)."""
        changed = {n for n in manifest.keys() | self._saved.keys() if manifest.get(n) != self._saved.get(n)}
        try:
            self.store.set_tags({self.key_of(n): manifest.get(n) for n in sorted(changed)})
        except OSError as e:  # the disk is full: the next run renders what the manifest would have skipped
            if e.errno != errno.ENOSPC:
                raise
        self._saved = dict(manifest)


# -- in the worker ---------------------------------------------------------


class _WorkerState(TypedDict, total=False):  # empty until init_worker
    renderer: Renderer
    profile: RulesProfile
    base_url: str
    out: Storage
    prefix: str


_worker: _WorkerState = {}


def init_worker(
    profile_id: str,
    base_url: str,
    font_cache: str,
    out: str | Storage,
    document_key: DocumentKey | None = None,
    prefix: str = "",
) -> None:
    profile = load_profile(profile_id)
    sealer = Sealer(document_key, profile.issuer_name) if document_key else None
    _worker.update(
        {
            "renderer": Renderer(Path(font_cache), sealer=sealer),
            "profile": profile,
            "base_url": base_url,
            "out": FolderStorage(Path(out), write=_write) if isinstance(out, str) else out,
            "prefix": prefix,
        }
    )


def _init_pool_worker(*args: Any) -> None:
    """A spawned worker, which renders until the batch ends: what it holds
    now (WeasyPrint, the fonts, the template) is frozen out of the cyclic
    garbage collector's scans, which otherwise walk it on every full
    collection: about 4 % of a render (benchmarks/bench_render.py)."""
    init_worker(*args)
    gc.collect()
    gc.freeze()


def render_one(job: Job) -> str | None:
    """None when written; else why not, for the summary."""
    try:
        pdf = _worker["renderer"].render(view(job, _worker["profile"], _worker["base_url"]))
        _worker["out"].put(f"{_worker['prefix']}{job.number}.pdf", pdf)
        return None
    except OSError as e:
        if e.errno == errno.ENOSPC:
            return f"{DISK_FULL}（{_worker['out'].describe(_worker['prefix'])}）：{e.strerror}"
        return f"{type(e).__name__}: {e}"
    except Exception as e:  # one bad certificate must not stop the batch
        return f"{type(e).__name__}: {e}"


def write_atomically(path: Path, data: bytes) -> None:
    """The whole file or nothing (issuer/storage.py's write_atomically)."""
    storelib.write_atomically(path, data, _write)


def _write(path: Path, data: bytes) -> None:
    """How the folder store writes a file's bytes: _write_file, looked up
    when called (a test's full disk replaces it), and picklable for the
    spawned workers."""
    _write_file(path, data)


def _write_file(path: Path, data: bytes) -> None:
    path.write_bytes(data)


remove_temporaries = storelib.remove_temporaries
