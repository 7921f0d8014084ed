"""Background batches (批量任务): issuance or rendering for the region or
one school, started from the web, run by Celery workers (issuer/office/tasks.py).

Everything a page shows lives in the `jobs` table, never in a Celery result
backend: a job is queued by the web request, planned by one task (the
teachers in scope, split into chunks whose numbers are stored in the job's
params) and worked by chunk tasks that any worker may take.

Exactly once. A chunk's certificates, audit entries and its line in the
job's tally commit in one transaction, and the tally names the chunks it
holds. A chunk delivered twice (a worker lost, a plan redelivered) finds
its index there and does nothing; two copies running at once take turns on
the teachers' registration rows (PostgreSQL) or the write lock (SQLite),
and the later one, finding the index recorded when it comes to record its
own, rolls its whole transaction back. Issuance itself is idempotent too
(an unchanged certificate is not reissued; one current version per number).
A failure marks the job failed with a message a clerk can act on; chunks
already committed stay (each whole), the rest are skipped, and starting the
job again finishes it without issuing anyone twice.

Signs of life. A job that no worker is working must not sit at "running"
as if all were well: every worker stamps "alive at" into each queued or
running job every HEARTBEAT_EVERY seconds (issuer/office/tasks.py), each chunk
stamps its progress when it records itself, and a job with no sign of life
for STALL_AFTER seconds is shown as stalled, since its last one. They live
in the job's `result` (JSON), so no table is needed and they are seen
wherever the job is.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, defer

from issuer.certificates.docsigning import DocumentKey
from issuer.certificates.issuance import Decision, IssueOptions, Issuer, IssueSummary
from issuer.certificates.keystore import Keystore, Signer
from issuer.config import Settings
from issuer.db import read_session, write_session
from issuer.errors import EcertError, InputRefused, NotFound
from issuer.ledger.credits import ledger
from issuer.ledger.credits.ledger import Holder
from issuer.ledger.credits.sheet import CreditSheet
from issuer.models import Certificate, Job, Registration, School, StaffAccount, Teacher
from issuer.pdf import batch as pdf_batch
from issuer.pdf import fonts as fontlib
from issuer.storage import Storage, storage_for
from verifier.clock import CHINA, as_utc, now_utc, today_in_china
from verifier.profiles import RulesProfile, load_profile

from .queries import find_in_scope, require_school
from .staff import Scope

log = logging.getLogger(__name__)

KINDS = {"issue": "批量签发证书", "render": "批量生成 PDF"}
STATES = {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "失败"}
# Teachers per chunk task: a few seconds of work each, so that several
# workers share a batch and a lost worker costs little.
CHUNK = {"issue": 250, "render": 50}
COUNTS = {
    "issue": (("issued", "签发"), ("reissued", "重新签发"), ("unchanged", "未变化"), ("refused", "拒绝")),
    "render": (("rendered", "生成"), ("unchanged", "未变化"), ("failed", "失败")),
}
LISTED = {"issue": "refused", "render": "failed"}  # the (number, reason) pairs a page lists
# A worker stamps its jobs every HEARTBEAT_EVERY seconds; a job with no sign
# of life for STALL_AFTER is stalled. Six beats missed: a worker kept waiting
# a while for the database (SQLite's write lock during a chunk) is not taken
# for dead, and a clerk learns within a minute that nobody is working.
HEARTBEAT_EVERY = 10
STALL_AFTER = 60
FORGET_WORKER = timedelta(hours=1)  # a worker not seen for this long leaves the job's map
IN_CHUNK = 500  # numbers per IN list
STALLED = "已停滞：自 {since} 起没有工作进程在处理（请检查 ecert worker / ecert serve）"


class _AlreadyRecorded(Exception):
    """Another copy of this chunk recorded it first: roll this one back."""


# -- the web's side: start, read -------------------------------------------


def start(
    engine: Engine,
    settings: Settings,
    scope: Scope,
    kind: str,
    school: str | None,
    enqueue: Callable[[int], None],
    *,
    chunk: int | None = None,
    teacher: str | None = None,
    final_on: date | None = None,
) -> int:
    """A queued job, committed, then handed to the queue by `enqueue(id)`.
    The school is bounded by the scope (NotFound outside it). `teacher`: an
    issue job for one certificate number (a reissue from the office, also
    after a revocation; the job is her school's). `final_on`: an issue job
    that is the cycle's final review (终审) as of that day (check_final_review).
    If the queue cannot be reached the job is marked failed, saying so, and
    its id returned all the same: the page shows why.

    Signing happens in the worker, never in the web process, which does not
    hold the key's passphrase (`ecert serve` starts the web server without it)."""
    if kind not in KINDS or (teacher and kind != "issue"):
        raise InputRefused(f"未知的任务类型 {kind!r}", f"kind must be one of {', '.join(KINDS)}")
    if not scope.can("issue"):
        raise NotFound("没有这个页面", f"role {scope.role} may not start batches")
    profile = load_profile(settings.profile_id)
    if final_on is not None:
        if kind != "issue":
            raise InputRefused("只有签发证书的任务可以是终审", "only an issue job can be the final review")
        check_final_review(profile, final_on)
    with write_session(engine) as s:
        if teacher:
            holder = find_in_scope(s, profile, scope, teacher)
            teacher, school = holder.number, holder.school_code
        school = scope.school_or_own(school)
        if school:
            require_school(s, school)
        params = {
            "profile": profile.id,
            "as_of": today_in_china().isoformat(),
            "chunk": chunk or CHUNK[kind],
            **({"teacher": teacher} if teacher else {}),
            **({"final_on": final_on.isoformat()} if final_on else {}),
        }
        job = Job(
            kind=kind,
            school_code=school,
            state="queued",
            total=0,
            done=0,
            # what the page says before a worker plans it (the params are not read for a page)
            result=json.dumps({"final_on": final_on.isoformat()}) if final_on else "",
            error="",
            started_by=scope.actor,
            params=json.dumps(params),
        )
        s.add(job)
        s.flush()
        job_id = job.id
    try:
        enqueue(job_id)
    except Exception as e:  # the broker is down or misconfigured: say so on the page
        log.exception("job %s: could not be queued", job_id)
        fail(
            engine,
            job_id,
            "无法把任务交给后台队列（CELERY_BROKER_URL 所指的服务不可用？）："
            f"{type(e).__name__}: {e}。请检查队列服务后重新发起。",
        )
    return job_id


def get(session: Session, scope: Scope, job_id: int) -> Job:
    job = session.get(Job, job_id, options=[defer(Job.params)])
    if job is None or not scope.sees_school(job.school_code):
        raise NotFound("没有这个任务", f"no job {job_id} in this account's scope")
    return job


def recent(session: Session, scope: Scope, limit: int = 50) -> list[Job]:
    q = select(Job).options(defer(Job.params)).order_by(Job.id.desc()).limit(limit)
    if scope.school_code:
        q = q.where(Job.school_code == scope.school_code)
    return list(session.scalars(q))


def describe(job: Job) -> dict:
    """A job as its page and its JSON show it."""
    result = json.loads(job.result) if job.result else {}
    alive_at = _last_alive(result)
    since = max(t for t in (alive_at, as_utc(job.started_at), as_utc(job.created_at)) if t)
    stalled = job.state in ("queued", "running") and (now_utc() - since).total_seconds() > STALL_AFTER
    counts = {
        key: (len(result[key]) if isinstance(result.get(key), list) else result.get(key, 0))
        for key, _ in COUNTS[job.kind]
    }
    listed = result.get(LISTED[job.kind], [])
    label = KINDS[job.kind] if "teacher" not in result else "签发一名教师的证书"
    return {
        "id": job.id,
        "kind": job.kind,
        "kind_label": f"{label}（终审）" if result.get("final_on") else label,
        "final_on": result.get("final_on"),
        "school": job.school_code,
        "teacher": result.get("teacher"),
        "state": job.state,
        "state_label": STATES[job.state],
        "total": job.total,
        "done": job.done,
        "percent": (100 * job.done // job.total) if job.total else (100 if job.state == "done" else 0),
        "counts": counts,
        "count_labels": dict(COUNTS[job.kind]),
        LISTED[job.kind]: [{"number": n, "reason": r} for n, r in listed],
        "reasons": Counter(r for _, r in listed).most_common(),
        "chunks": result.get("chunks", 0),
        "chunks_done": len(result.get("chunks_done", [])),
        "workers": result.get("workers", {}),
        "error": job.error or None,
        "started_by": job.started_by,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "last_alive_at": _iso(alive_at),
        "stalled": stalled,
        "stalled_since": _iso(since) if stalled else None,
        "stalled_message": STALLED.format(since=_clock_time(since)) if stalled else None,
    }


def check_final_review(profile: RulesProfile, day: date) -> None:
    """A final review (终审) is made as of a day from the cycle's last
    December on (issuance's rule, Issuer.check_options), and not ahead of
    today: its sheets count the records completed by then."""
    if day < profile.review_opens:
        raise InputRefused(
            f"终审须在周期最后一年 12 月（{profile.review_opens} 起）进行，{day} 还不能终审",
            f"the final review opens on {profile.review_opens}",
        )
    if day > today_in_china():
        raise InputRefused(f"终审日期 {day} 晚于今天", f"the final review's day {day} is after today")


def with_names(session: Session, infos: list[dict]) -> list[dict]:
    """Described jobs with the school's name and the starter's display name
    added (`school_name`, `started_by_name`), for the pages: people read
    names, the JSON keeps the codes."""
    codes = {i["school"] for i in infos if i["school"]}
    users = {i["started_by"].removeprefix("staff:") for i in infos if i["started_by"].startswith("staff:")}
    schools: dict[str, str] = {}
    accounts: dict[str, str] = {}
    if codes:
        schools.update(session.execute(select(School.code, School.name).where(School.code.in_(codes))).all())
    if users:
        accounts.update(
            session.execute(
                select(StaffAccount.username, StaffAccount.display_name).where(
                    StaffAccount.username.in_(users)
                )
            ).all()
        )
    for i in infos:
        i["school_name"] = schools.get(i["school"], i["school"]) if i["school"] else None
        by = i["started_by"]
        # the command line's operator (`ecert serve`'s render job) is named as the CLI names her
        i["started_by_name"] = accounts.get(by.removeprefix("staff:"), by) if by.startswith("staff:") else by
    return infos


def holder_names(session: Session, numbers: Iterable[str]) -> dict[str, str]:
    """Certificate number → the registered teacher's name."""
    numbers = sorted(set(numbers))
    out: dict[str, str] = {}
    for i in range(0, len(numbers), IN_CHUNK):
        out.update(
            session.execute(
                select(Registration.number, Teacher.name)
                .join(Teacher, Teacher.id == Registration.teacher_id)
                .where(Registration.number.in_(numbers[i : i + IN_CHUNK]))
            ).all()
        )
    return out


def signed_versions(session: Session, scope: Scope, job_id: int) -> list[tuple[str, int]]:
    """The (number, version) of each certificate an ended issue job signed
    (issued or reissued), as its chunks recorded them; a failed job's
    committed chunks count. NotFound outside the scope; InputRefused for a
    job that is not an ended issue job, or one recorded before jobs kept
    what they signed."""
    job = get(session, scope, job_id)
    if job.kind != "issue":
        raise InputRefused(f"任务 #{job_id} 不是签发证书的任务", f"job {job_id} is not an issue job")
    if job.state in ("queued", "running"):
        raise InputRefused(f"任务 #{job_id} 尚未结束：请在它结束后再撤销", f"job {job_id} has not ended")
    result = json.loads(job.result) if job.result else {}
    if "signed" not in result:
        raise InputRefused(
            f"任务 #{job_id} 没有记录签发了哪些证书（早于本功能的任务）：请按学校和签发日期撤销",
            f"job {job_id} did not record what it signed; revoke by school and issue date",
        )
    return [(str(n), int(v)) for n, v in result["signed"]]


# -- a render job's PDFs, for printing ---------------------------------------

STALE = "PDF 不是现行版本（证书在生成后有更新、签章证书已更换，或生成失败）：请重新生成 PDF"
NOT_CURRENT = "证书已撤销或没有现行版本"
UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


@dataclass
class PrintSet:
    """What a render job's ZIP holds: (entry name, key in the store) of each
    PDF that is its certificate's current PDF now, and the job's numbers
    left out, why."""

    job_id: int
    school: str | None
    school_name: str | None
    entries: list[tuple[str, str]] = field(default_factory=list)
    left_out: list[tuple[str, str, str]] = field(default_factory=list)  # (number, name, reason)
    size: int = 0  # bytes of the PDFs

    @property
    def filename(self) -> str:
        where = self.school_name or "全区"
        return f"证书PDF-{where}-任务{self.job_id}.zip"


def print_set(session: Session, settings: Settings, scope: Scope, job_id: int) -> PrintSet:
    """The PDFs of an ended render job's certificates, for its ZIP. A PDF is
    in it only if its tag in the service's store (the render manifest,
    issuer/storage.py) says it was made from the certificate's current
    version, with the current template, fonts and PDF-signing certificate
    (the render key a render job skips by): a certificate revoked or
    reissued since, or a PDF that failed, is left out and listed, never
    printed stale. NotFound outside the scope and for any job but a render
    job that is done."""
    job = get(session, scope, job_id)
    if job.kind != "render" or job.state != "done":
        raise NotFound("这个任务没有可下载的 PDF", f"job {job_id} is not a finished render job")
    params = json.loads(job.params)
    numbers = [n for chunk in params.get("chunks", []) for n in chunk]
    profile = load_profile(params["profile"])
    out = PrintSet(job_id, job.school_code, None)
    if job.school_code:
        out.school_name = session.scalar(select(School.name).where(School.code == job.school_code))
    if not numbers:
        return out
    bind = session.get_bind()
    assert isinstance(bind, Engine)  # sessions here are made on an engine (issuer.db)
    stored = dict(storage_for(settings, bind).list(pdf_batch.RENDERED))  # key → size and tag, at once
    key = Keystore(settings.keys_dir, settings.actor).document_key(session, profile.issuer_code)
    digest = _style_digest(settings.data_dir / "fonts", key)
    current = {}
    for i in range(0, len(numbers), IN_CHUNK):
        current.update(
            (r.number, r)
            for r in session.execute(
                select(
                    Certificate.number,
                    Certificate.token,
                    Certificate.state,
                    Certificate.check_code,
                    Certificate.summary,
                    Teacher.name,
                    School.code.label("school"),
                    School.name.label("school_name"),
                )
                .join(Registration, Registration.number == Certificate.number)
                .join(Teacher, Teacher.id == Registration.teacher_id)
                .join(School, School.code == Teacher.school_code)
                .where(Certificate.number.in_(numbers[i : i + IN_CHUNK]), Certificate.state == "current")
            )
        )
    gone = holder_names(session, [n for n in numbers if n not in current])
    for number in numbers:
        c = current.get(number)
        if c is None:
            out.left_out.append((number, gone.get(number, ""), NOT_CURRENT))
            continue
        key = f"{pdf_batch.RENDERED}{number}.pdf"
        wanted = pdf_batch.render_key(c.token, c.state, c.check_code, c.summary, settings.base_url, digest)
        stat = stored.get(key)
        if stat is None or stat.tag != wanted:
            out.left_out.append((number, c.name, STALE))
            continue
        name = f"{number}-{_safe(c.name)}.pdf"
        # a region's job: a folder a school, so that each school's pile prints on its own
        out.entries.append((name if job.school_code else f"{c.school}-{_safe(c.school_name)}/{name}", key))
        out.size += stat.size
    out.entries.sort(key=lambda e: e[0])  # a region's: each school's folder in one run
    return out


def _safe(text: str) -> str:
    """A name as part of a file name on any system."""
    return UNSAFE_IN_NAME.sub("_", text).strip(" .") or "_"


_digests: dict[tuple[Path, str], str] = {}


def _style_digest(font_cache: Path, key: DocumentKey) -> str:
    """pdf_batch.style_digest, once per process and PDF-signing certificate
    (it hashes the fonts; template and fonts do not change under a process)."""
    k = (font_cache, key.fingerprint)
    if k not in _digests:
        _digests[k] = pdf_batch.style_digest(font_cache, key)
    return _digests[k]


def _iso(t) -> str | None:
    return as_utc(t).astimezone(CHINA).isoformat(timespec="seconds") if t else None


def _clock_time(t: datetime) -> str:
    """HH:MM in China time, with the day when it is not today."""
    local = as_utc(t).astimezone(CHINA)
    return (
        f"{local:%H:%M}"
        if local.date() == today_in_china()
        else f"{local.month}月{local.day}日 {local:%H:%M}"
    )


def _last_alive(result: dict) -> datetime | None:
    """The newest sign of life a worker left in a job: a heartbeat or a chunk's progress."""
    times = [
        *result.get("alive", {}).values(),
        *([result["progress_at"]] if result.get("progress_at") else []),
    ]
    return max(map(datetime.fromisoformat, times), default=None)


# -- the worker's side: plan, chunks, failure ------------------------------


def plan(engine: Engine, job_id: int, settings: Settings, dispatch: Callable[[int, int], None]) -> int:
    """Split a queued job into chunks, stored with it, and dispatch each
    chunk not yet done; a plan delivered again only re-dispatches (chunks
    are idempotent). Returns how many chunks were dispatched."""
    try:
        with write_session(engine) as s:
            job = s.get(Job, job_id, with_for_update=True)
            if job is None or job.state not in ("queued", "running"):
                return 0
            params = json.loads(job.params)
            if job.state == "queued":
                profile = load_profile(params["profile"])
                _check_ready(s, job.kind, profile, settings)
                numbers = (
                    [params["teacher"]]
                    if params.get("teacher")
                    else _in_scope(s, job.kind, profile, job.school_code)
                )
                # the day the work starts, not when queued; a final review's own day
                params["as_of"] = params.get("final_on") or today_in_china().isoformat()
                size = max(1, int(params["chunk"]))
                params["chunks"] = [numbers[i : i + size] for i in range(0, len(numbers), size)]
                job.params = json.dumps(params)
                job.total, job.done, job.state, job.started_at = len(numbers), 0, "running", now_utc()
                queued = json.loads(job.result) if job.result else {}  # heartbeats only
                job.result = json.dumps(
                    {
                        **_empty_result(job.kind, len(params["chunks"])),
                        **({"teacher": params["teacher"]} if params.get("teacher") else {}),
                        **({"final_on": params["final_on"]} if params.get("final_on") else {}),
                        "alive": queued.get("alive", {}),
                    }
                )
                if not numbers:
                    job.state, job.finished_at = "done", now_utc()
            done = set(json.loads(job.result)["chunks_done"])
            pending = [i for i in range(len(params["chunks"])) if i not in done]
    except Exception as e:
        fail(engine, job_id, clerk_message(e, "准备任务时"))
        return 0
    for index in pending:
        dispatch(job_id, index)
    return len(pending)


def run_chunk(engine: Engine, job_id: int, index: int, settings: Settings, worker: str = "") -> str:
    """Do one chunk; 'done', or 'skipped' when the job has failed or the
    chunk was done already, or 'failed' (the job is marked failed)."""
    try:
        with read_session(engine) as s:
            job = s.get(Job, job_id)
            if job is None or job.state != "running" or index in json.loads(job.result)["chunks_done"]:
                return "skipped"
            kind, params, actor = job.kind, json.loads(job.params), job.started_by
        numbers = params["chunks"][index]
        profile = load_profile(params["profile"])
        record = _recorder(job_id, index, len(numbers), worker)
        if kind == "issue":
            options = IssueOptions(
                final=bool(params.get("final_on")),
                as_of=date.fromisoformat(params["as_of"]),
                teacher=params.get("teacher"),
            )
            issuer = _ChunkIssuer(
                engine, profile, Keystore(settings.keys_dir, actor), settings.base_url, actor
            )
            issuer.run_numbers(numbers, options, record)
        else:
            _render(engine, profile, settings, numbers, record)
        return "done"
    except _AlreadyRecorded:
        return "skipped"
    except Exception as e:
        log.exception("job %s chunk %s failed", job_id, index)
        fail(engine, job_id, clerk_message(e, f"第 {index + 1} 批"))
        return "failed"


def unfinished(engine: Engine) -> list[int]:
    """Jobs still queued or running, oldest first."""
    with read_session(engine) as s:
        return list(s.scalars(select(Job.id).where(Job.state.in_(("queued", "running"))).order_by(Job.id)))


def heartbeat(engine: Engine, worker: str) -> int:
    """Stamp "`worker` alive now" into every queued or running job; how many.
    Each job in a short transaction of its own. A job whose row another
    transaction holds (a chunk recording itself, which stamps life too, or a
    plan) is passed over until the next beat rather than waited for
    (PostgreSQL; SQLite waits for its write lock, at most a chunk's commit)."""
    stamped = 0
    for job_id in unfinished(engine):
        with write_session(engine) as s:
            job = s.get(Job, job_id, with_for_update={"skip_locked": True}, populate_existing=True)
            if job is None or job.state not in ("queued", "running"):
                continue
            result = json.loads(job.result) if job.result else {}
            job.result = json.dumps(_stamp_alive(result, worker), ensure_ascii=False)
            stamped += 1
    return stamped


def _stamp_alive(result: dict, worker: str) -> dict:
    now = now_utc()
    alive = result.setdefault("alive", {})
    alive[worker or "?"] = now.isoformat()
    for name, t in list(alive.items()):
        if now - datetime.fromisoformat(t) > FORGET_WORKER:
            del alive[name]
    return result


def fail(engine: Engine, job_id: int, message: str) -> None:
    """Mark a job failed (the first failure's message is kept)."""
    with write_session(engine) as s:
        job = s.get(Job, job_id, with_for_update=True)
        if job is not None and job.state in ("queued", "running"):
            job.state, job.error, job.finished_at = "failed", message[:4000], now_utc()


def clerk_message(e: Exception, where: str) -> str:
    tail = "已完成的批次已保存；处理后重新发起任务即可，已签发的证书不会重复签发。"
    if isinstance(e, EcertError):
        return f"{where}出错：{e.message}" + (f"（{e.detail}）" if e.detail else "") + "。" + tail
    return f"{where}出错：{type(e).__name__}: {e}。" + tail


def _check_ready(s: Session, kind: str, profile: RulesProfile, settings: Settings) -> None:
    """Refuse early what every chunk would fail on: the signing key (its
    passphrase in this worker's environment) or the fonts."""
    if kind == "issue":
        Keystore(settings.keys_dir, settings.actor).signer(s, profile.issuer_code)
    else:
        fontlib.prepare(settings.data_dir / "fonts")


def _in_scope(s: Session, kind: str, profile: RulesProfile, school: str | None) -> list[str]:
    """The numbers a job covers, in a stable order: registrations (issue,
    as Issuer.count counts them) or current certificates (render)."""
    if kind == "issue":
        q = (
            select(Registration.number)
            .join(Teacher, Teacher.id == Registration.teacher_id)
            .where(Registration.cycle == profile.cycle, Registration.bureau_code == profile.issuer_code)
            .order_by(Teacher.id)
        )
        if school:
            q = q.where(Teacher.school_code == school)
    else:
        q = pdf_batch.current_in_scope(select(Certificate.number), profile, school).order_by(
            Certificate.number
        )
    return list(s.scalars(q))


def _empty_result(kind: str, chunks: int) -> dict:
    counts = {key: ([] if key == LISTED[kind] else 0) for key, _ in COUNTS[kind]}
    signed = {"signed": []} if kind == "issue" else {}  # (number, version) of each one signed: batch revoke
    return {"chunks": chunks, "chunks_done": [], "workers": {}, **counts, **signed}


def _recorder(job_id: int, index: int, n: int, worker: str) -> Callable[[Session, dict], None]:
    """Adds a chunk's counts to its job, in the caller's transaction; raises
    _AlreadyRecorded if the chunk is there already."""

    def record(s: Session, counts: dict) -> None:
        job = s.get(Job, job_id, with_for_update=True, populate_existing=True)
        result = json.loads(job.result)
        if index in result["chunks_done"]:
            raise _AlreadyRecorded
        for key, value in counts.items():
            # .get: a job planned before a key was added to its tally (an upgrade mid-job)
            result[key] = result.get(key, type(value)()) + value
        result["chunks_done"].append(index)
        result["workers"][worker or "?"] = result["workers"].get(worker or "?", 0) + 1
        _stamp_alive(result, worker)
        result["progress_at"] = result["alive"][worker or "?"]
        job.result = json.dumps(result, ensure_ascii=False)
        job.done += n
        if job.state == "running" and len(result["chunks_done"]) == result["chunks"]:
            job.state, job.finished_at = "done", now_utc()

    return record


class _ChunkIssuer(Issuer):
    """Issuer.run for a list of numbers, whose one transaction also records
    the chunk in its job, with the (number, version) of each certificate it
    signed: what a batch revocation "by job" takes back."""

    _signed: list[list[object]]

    def decide(
        self,
        session: Session,
        signer: Signer,
        chunk: list[tuple[Holder, CreditSheet]],
        options: IssueOptions,
        now: datetime,
    ) -> list[Decision]:
        # issue_chunk stores exactly the decisions that carry a signed row:
        # noted here, they name the versions this chunk writes, with no
        # second look at the register (which a concurrent job may change).
        decisions = super().decide(session, signer, chunk, options, now)
        self._signed = [[d.holder.number, d.claims.version] for d in decisions if d.row is not None]
        return decisions

    def run_numbers(
        self, numbers: list[str], options: IssueOptions, record: Callable[[Session, dict], None]
    ) -> IssueSummary:
        self.check_options(options)
        with read_session(self.engine) as s:
            signer = self.keystore.signer(s, self.profile.issuer_code)
            chunk = ledger.sheets_of(s, self.profile, numbers, options.as_of)
        summary = IssueSummary()
        with write_session(self.engine) as s:
            self._signed = []
            if chunk:
                self.issue_chunk(s, signer, chunk, options, summary)  # with the key active now
            record(
                s,
                {
                    "issued": summary.issued,
                    "reissued": summary.reissued,
                    "unchanged": summary.unchanged,
                    "refused": [list(r) for r in summary.refused],
                    "signed": self._signed,
                },
            )
        return summary


# -- rendering -------------------------------------------------------------


def pdf_dir(settings: Settings) -> Path:
    """Where a render job writes <number>.pdf with ECERT_STORAGE=folder (the
    worker's data folder; issuer/storage.py)."""
    return settings.data_dir / pdf_batch.RENDERED


def pdf_place(settings: Settings, engine: Engine) -> str:
    """Where a render job's PDFs are, for its page."""
    return storage_for(settings, engine).describe(pdf_batch.RENDERED)


def _render(
    engine: Engine,
    profile: RulesProfile,
    settings: Settings,
    numbers: list[str],
    record: Callable[[Session, dict], None],
) -> None:
    with read_session(engine) as s:
        key = Keystore(settings.keys_dir, settings.actor).document_key(s, profile.issuer_code)
    renderer = _ChunkRenderer(
        profile, settings.base_url, settings.data_dir / "fonts", storage_for(settings, engine), numbers, key
    )
    with read_session(engine) as s:
        certs = list(
            s.scalars(
                select(Certificate)
                .where(Certificate.number.in_(numbers), Certificate.state == "current")
                .order_by(Certificate.number)
            )
        )
    summary = renderer.run(iter(certs))
    with write_session(engine) as s:
        record(
            s,
            {
                "rendered": summary.rendered,
                "unchanged": summary.unchanged,
                "failed": [list(f) for f in summary.failed],
            },
        )


class _ChunkRenderer(pdf_batch.BatchRenderer):
    """BatchRenderer over one chunk, in this process, into the service's
    store (issuer/storage.py), which other chunks, on other workers and
    machines, share: the manifest is each PDF's tag there, so a chunk reads
    its own numbers' tags at the start and sets only theirs at the end
    (another chunk's are never overwritten). The worker process keeps its
    Renderer from one chunk to the next."""

    def __init__(self, profile, base_url, font_cache: Path, store: Storage, numbers: list[str], key) -> None:
        super().__init__(
            profile, base_url, font_cache, store, workers=1, document_key=key, prefix=pdf_batch.RENDERED
        )
        self.numbers = numbers

    def _load_manifest(self) -> dict[str, str]:
        manifest = {}
        for number in self.numbers:
            stat = self.store.stat(self.key_of(number))
            if stat is not None and stat.tag:
                manifest[number] = stat.tag
        return manifest

    def _serial(self, jobs, manifest, summary, progress) -> None:
        wanted = (self.profile.id, self.base_url, self.font_cache, self.store, self.prefix, self.digest)
        if _renderer_for.get("key") != wanted:
            old = pdf_batch._worker.get("renderer")
            pdf_batch.init_worker(*self._worker_args())
            if old is not None:
                old.close()
            _renderer_for["key"] = wanted
        for job in jobs:
            self._record(job, pdf_batch.render_one(job), manifest, summary)
            progress(1)


_renderer_for: dict = {}
