"""Background batches from the office pages, the fast way: the web request
queues a job (the queue is a list here), and the test then calls the
tasks' functions directly (issuer.office.jobs.plan and run_chunk, what the Celery
tasks in issuer/office/tasks.py call), step by step, reading the pages between
steps. Real workers and brokers: tests/staff/test_jobs_workers.py."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from issuer.config import load_settings
from issuer.db import read_session, write_session
from issuer.models import AuditEntry, Certificate, Job
from issuer.office import jobs as jobs_lib
from issuer.office import tasks
from issuer.pdf.batch import MANIFEST
from tests.builders import ROSTER_HEADER, id_number, record_row, teacher_row
from tests.helpers import SCHOOL_A, SCHOOL_B, csrf, plan, progress, run, signed_in, start


def number_of(region, idn: str) -> str:
    return json.loads(region.run("credits", idn, "--json").stdout)["certificate_number"]


def refreshes(html: str) -> bool:
    return bool(re.search(r'<meta http-equiv="refresh" content="\d+">', html))


def test_an_issue_job_runs_in_chunks_and_its_page_lists_what_happened(app, region, keys, queued, monkeypatch):
    monkeypatch.setitem(jobs_lib.CHUNK, "issue", 1)  # three teachers, three chunks
    aud = signed_in(app, region, "auditor")
    r = start(aud, "issue")
    assert r.status_code == 302 and queued == [int(r.headers["Location"].rsplit("/", 1)[1])]
    job_id = queued[0]
    page = aud.get(f"/office/jobs/{job_id}").get_data(as_text=True)
    assert "排队中" in page and refreshes(page) and "<script" not in page

    assert plan(region, job_id) == [0, 1, 2]
    p = progress(aud, job_id)
    assert (p["state"], p["total"], p["done"], p["chunks"]) == ("running", 3, 0, 3)
    assert run(region, job_id, 0) == "done"
    p = progress(aud, job_id)
    assert (p["state"], p["done"], p["counts"]["issued"]) == ("running", 1, 1)
    assert refreshes(aud.get(f"/office/jobs/{job_id}").get_data(as_text=True))
    run(region, job_id, 1, worker="w2@test")
    run(region, job_id, 2)
    p = progress(aud, job_id)
    assert p["state"] == "done" and p["done"] == 3 and p["finished_at"]
    assert p["counts"] == {"issued": 3, "reissued": 0, "unchanged": 0, "refused": 0}
    assert p["workers"] == {"w1@test": 2, "w2@test": 1}
    with read_session(region.engine) as s:
        actors = set(s.scalars(select(AuditEntry.actor).where(AuditEntry.action == "issue")))
    assert actors == {"staff:auditor"}

    # A second run: one new teacher, one with a new record, one revoked, one as she was.
    new = id_number(seq=303)
    region.run(
        "roster",
        "import",
        str(region.files.csv("r2.csv", ROSTER_HEADER, [teacher_row("赵敏", new, school=SCHOOL_A)])),
    )
    region.run("records", "import", str(region.records_file("rec.csv", [record_row(region.a[0], "X-PRO")])))
    revoked = number_of(region, region.b[0])
    region.run("revoke", revoked, "--reason", "测试撤销")
    r = start(aud, "issue")
    second = queued[1]
    for i in plan(region, second):
        run(region, second, i)
    p = progress(aud, second)
    assert p["counts"] == {"issued": 1, "reissued": 1, "unchanged": 1, "refused": 1}
    assert [x["number"] for x in p["refused"]] == [revoked] and "撤销" in p["refused"][0]["reason"]

    # The page is the database's: a reload, or another person's browser, shows the same.
    admin = signed_in(app, region, "admin")
    for c in (aud, admin):
        page = c.get(f"/office/jobs/{second}").get_data(as_text=True)
        assert "已完成" in page and not refreshes(page)
        for label, n in (("签发", 1), ("重新签发", 1), ("未变化", 1), ("拒绝", 1)):
            assert re.search(rf"<th>{label}</th><td class=\"num\" id=\"count-\w+\">{n}</td>", page), label
        assert revoked in page and "证书已撤销" in page
    listing = admin.get("/office/jobs").get_data(as_text=True)
    assert f"#{job_id}" in listing and f"#{second}" in listing and "批量任务" in listing


def test_a_school_job_covers_that_school_only(app, region, keys, queued):
    aud = signed_in(app, region, "auditor")
    start(aud, "issue", SCHOOL_B[0])
    for i in plan(region, queued[0]):
        run(region, queued[0], i)
    p = progress(aud, queued[0])
    assert (p["school"], p["total"], p["counts"]["issued"]) == (SCHOOL_B[0], 1, 1)
    with read_session(region.engine) as s:
        assert s.scalar(select(func.count()).select_from(Certificate)) == 1
    assert start(aud, "issue", "9999999999").status_code == 404  # no such school
    assert (
        aud.post(
            "/office/jobs", data={"kind": "delete-all", "csrf_token": csrf(aud, "/office/jobs")}
        ).status_code
        == 400
    )
    assert aud.post("/office/jobs", data={"kind": "issue"}).status_code == 400  # no CSRF token


def test_a_registrar_gets_404_on_every_job_route(app, region, keys, queued):
    aud = signed_in(app, region, "auditor")
    start(aud, "issue", SCHOOL_A[0])
    job_id = queued[0]
    reg = signed_in(app, region, "reg-a")
    token = csrf(reg, "/office/declare")
    tried = {
        "office.jobs": reg.get("/office/jobs"),
        "office.job_start": reg.post(
            "/office/jobs", data={"kind": "issue", "school": SCHOOL_A[0], "csrf_token": token}
        ),
        "office.job": reg.get(f"/office/jobs/{job_id}"),
        "office.job_json": reg.get(f"/office/jobs/{job_id}.json"),
        "office.job_zip": reg.get(f"/office/jobs/{job_id}.zip"),
        "office.job_preview": reg.post(
            "/office/jobs/preview", data={"kind": "issue", "school": SCHOOL_A[0], "csrf_token": token}
        ),
    }
    assert {k: r.status_code for k, r in tried.items()} == dict.fromkeys(tried, 404)
    assert reg.get("/office/jobs/999.json").status_code == 404
    every = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/office/jobs")}
    assert every == set(tried)  # a new job route must be added here too
    assert queued == [job_id]  # she queued nothing
    assert "批量任务" not in reg.get("/office/").get_data(as_text=True)
    assert "批量任务" in aud.get("/office/").get_data(as_text=True)


def test_a_job_without_the_key_passphrase_fails_saying_so(app, region, keys, queued, monkeypatch):
    aud = signed_in(app, region, "auditor")
    start(aud, "issue")
    monkeypatch.delenv("ECERT_KEY_PASSPHRASE")  # the worker's environment lacks it
    assert plan(region, queued[0]) == []
    p = progress(aud, queued[0])
    assert p["state"] == "failed" and "ECERT_KEY_PASSPHRASE" in p["error"]
    page = aud.get(f"/office/jobs/{queued[0]}").get_data(as_text=True)
    assert "失败" in page and "未设置签名密钥口令" in page and not refreshes(page)


def test_a_chunk_that_fails_leaves_whole_chunks_and_a_rerun_finishes(app, region, keys, queued, monkeypatch):
    monkeypatch.setitem(jobs_lib.CHUNK, "issue", 1)
    from issuer.certificates import issuance

    real_append, calls = issuance.audit.append, []

    def append_failing_second(session, actor, events):
        calls.append(1)
        if len(calls) == 2:  # after the chunk's certificates were inserted
            raise RuntimeError("disk full")
        return real_append(session, actor, events)

    monkeypatch.setattr(issuance.audit, "append", append_failing_second)
    aud = signed_in(app, region, "auditor")
    start(aud, "issue")
    job_id = queued[0]
    assert [run(region, job_id, i) for i in plan(region, job_id)] == ["done", "failed", "skipped"]
    p = progress(aud, job_id)
    assert p["state"] == "failed" and p["done"] == 1 and p["counts"]["issued"] == 1
    assert "第 2 批出错" in p["error"] and "disk full" in p["error"]
    assert "disk full" in aud.get(f"/office/jobs/{job_id}").get_data(as_text=True)
    with read_session(region.engine) as s:  # the failed chunk left nothing
        assert s.scalar(select(func.count()).select_from(Certificate)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "issue")) == 1

    monkeypatch.setattr(issuance.audit, "append", real_append)
    start(aud, "issue")
    for i in plan(region, queued[1]):
        run(region, queued[1], i)
    assert progress(aud, queued[1])["counts"] == {"issued": 2, "reissued": 0, "unchanged": 1, "refused": 0}
    region.run("audit", "verify")  # exits non-zero on a broken chain
    with read_session(region.engine) as s:
        assert s.scalar(select(func.count()).select_from(Certificate)) == 3


def test_a_chunk_delivered_twice_issues_and_counts_once(app, region, keys, queued):
    aud = signed_in(app, region, "auditor")
    start(aud, "issue")
    job_id = queued[0]
    assert plan(region, job_id) == [0]
    assert run(region, job_id, 0) == "done"
    assert run(region, job_id, 0) == "skipped"  # delivered again after it committed
    assert plan(region, job_id) == []  # a plan delivered again: nothing left to dispatch
    # A copy that got past the first look while the other ran, and would reissue
    # (a teacher's record changed since): it rolls back whole at recording.
    region.run("records", "import", str(region.records_file("rec.csv", [record_row(region.a[0], "X-PRO")])))
    with read_session(region.engine) as s:
        job = s.get(Job, job_id)
        numbers = json.loads(job.params)["chunks"][0]
        before = s.scalar(select(func.count()).select_from(Certificate)), job.result
    settings = load_settings()
    from issuer.certificates.issuance import IssueOptions
    from issuer.certificates.keystore import Keystore
    from verifier.profiles import load_profile

    issuer = jobs_lib._ChunkIssuer(
        region.engine,
        load_profile("horgos-7"),
        Keystore(settings.keys_dir, "x"),
        settings.base_url,
        "staff:auditor",
    )
    with pytest.raises(jobs_lib._AlreadyRecorded):
        issuer.run_numbers(numbers, IssueOptions(), jobs_lib._recorder(job_id, 0, len(numbers), "w2"))
    with read_session(region.engine) as s:
        after = s.scalar(select(func.count()).select_from(Certificate)), s.get(Job, job_id).result
    assert after == before
    p = progress(aud, job_id)
    assert p["counts"]["issued"] == 3 and p["done"] == 3 and p["chunks_done"] == 1


def test_a_render_job_writes_the_pdfs_and_then_finds_them_unchanged(app, region, keys, queued, monkeypatch):
    monkeypatch.setitem(jobs_lib.CHUNK, "render", 2)  # two chunks share the folder's manifest
    region.run("issue")
    aud = signed_in(app, region, "auditor")
    start(aud, "render")
    assert plan(region, queued[0]) == [0, 1]
    # Two workers at once on one folder: chunk 1 runs whole while chunk 0 renders
    # its first PDF, between chunk 0's reading of the manifest and its writing.
    real, other = jobs_lib.pdf_batch.render_one, []

    def render_one(job):
        if not other:
            other.append("started")
            other.append(run(region, queued[0], 1, "w2@test"))
        return real(job)

    monkeypatch.setattr(jobs_lib.pdf_batch, "render_one", render_one)
    assert run(region, queued[0], 0) == "done" and other == ["started", "done"]
    p = progress(aud, queued[0])
    assert p["state"] == "done" and p["counts"] == {"rendered": 3, "unchanged": 0, "failed": 0}
    out = jobs_lib.pdf_dir(load_settings())
    with read_session(region.engine) as s:
        numbers = sorted(s.scalars(select(Certificate.number)))
    assert sorted(f.stem for f in out.glob("*.pdf")) == numbers
    assert sorted(json.loads((out / MANIFEST).read_text())) == numbers  # neither chunk lost the other's
    start(aud, "render")
    for i in plan(region, queued[1]):
        run(region, queued[1], i)
    assert progress(aud, queued[1])["counts"] == {"rendered": 0, "unchanged": 3, "failed": 0}
    assert "生成 PDF" in aud.get(f"/office/jobs/{queued[1]}").get_data(as_text=True)


def test_a_queue_that_cannot_be_reached_fails_the_job_visibly(app, region, keys, monkeypatch):
    def down(job_id):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(tasks, "enqueue", down)
    aud = signed_in(app, region, "auditor")
    r = start(aud, "issue")
    p = aud.get(r.headers["Location"] + ".json").get_json()
    assert p["state"] == "failed" and "后台队列" in p["error"] and "Connection refused" in p["error"]
    with write_session(region.engine) as s:
        assert s.scalar(select(func.count()).select_from(Certificate)) == 0


def test_a_job_no_worker_shows_life_for_says_it_is_stalled_and_since_when(
    app, region, keys, queued, clock, monkeypatch
):
    monkeypatch.setitem(jobs_lib.CHUNK, "issue", 1)
    aud = signed_in(app, region, "auditor")
    start(aud, "issue")
    job_id = queued[0]
    p = progress(aud, job_id)
    assert not p["stalled"] and p["stalled_message"] is None  # just queued: a worker has a minute to show up

    def later(seconds: float) -> None:
        clock.move_to(jobs_lib.now_utc() + timedelta(seconds=seconds))

    def stall_of(p: dict) -> str:
        return jobs_lib.STALLED.format(since=p["stalled_since"][11:16])  # HH:MM, China time, today

    later(jobs_lib.STALL_AFTER + 1)  # nobody came
    p = progress(aud, job_id)
    assert p["stalled"] and p["stalled_since"] == p["created_at"] and p["last_alive_at"] is None
    assert p["stalled_message"] == stall_of(p)
    assert p["stalled_message"].startswith("已停滞：自 ")
    assert p["stalled_message"].endswith(" 起没有工作进程在处理（请检查 ecert worker / ecert serve）")
    page = aud.get(f"/office/jobs/{job_id}").get_data(as_text=True)
    assert p["stalled_message"] in page and "排队中" in page and refreshes(page)  # it may yet start
    assert "已停滞" in aud.get("/office/jobs").get_data(as_text=True)

    # A worker starts: its heartbeat reaches the queued job, which is no longer stalled.
    assert jobs_lib.heartbeat(region.engine, "w1@test") == 1
    p = progress(aud, job_id)
    assert not p["stalled"] and p["last_alive_at"]
    assert "已停滞" not in aud.get(f"/office/jobs/{job_id}").get_data(as_text=True)
    assert plan(region, job_id) == [0, 1, 2]
    later(jobs_lib.STALL_AFTER - 10)  # a worker busy on one chunk for 50 s: still alive
    assert run(region, job_id, 0) == "done"
    chunk_at = progress(aud, job_id)["last_alive_at"]
    later(jobs_lib.STALL_AFTER - 10)
    assert not progress(aud, job_id)["stalled"]

    # The worker is gone (killed mid-job): a minute after its last chunk the page says so.
    later(20)
    p = progress(aud, job_id)
    assert p["state"] == "running" and p["stalled"] and p["stalled_since"] == chunk_at == p["last_alive_at"]
    assert p["stalled_message"] == stall_of(p)
    assert p["stalled_message"] in aud.get(f"/office/jobs/{job_id}").get_data(as_text=True)

    # Another worker takes over; a finished job is never stalled, however late.
    assert jobs_lib.heartbeat(region.engine, "w2@test") == 1 and not progress(aud, job_id)["stalled"]
    assert [run(region, job_id, i, "w2@test") for i in (1, 2)] == ["done", "done"]
    later(3600)
    p = progress(aud, job_id)
    assert p["state"] == "done" and not p["stalled"] and p["stalled_message"] is None
    assert jobs_lib.heartbeat(region.engine, "w2@test") == 0  # only unfinished jobs are stamped
    with read_session(region.engine) as s:
        result = json.loads(s.get(Job, job_id).result)
    assert sorted(result["alive"]) == ["w1@test", "w2@test"] and result["workers"] == {
        "w1@test": 1,
        "w2@test": 2,
    }


def test_a_workers_heartbeat_stamps_its_unfinished_jobs_until_it_stops(
    app, region, keys, queued, monkeypatch
):
    """The thread a worker starts when ready (issuer/office/tasks.py), here in this process, beating fast."""
    monkeypatch.setattr(jobs_lib, "HEARTBEAT_EVERY", 0.05)
    monkeypatch.setattr(tasks, "_engines", {})  # this test's engine, disposed below
    aud = signed_in(app, region, "auditor")
    start(aud, "issue")
    start(aud, "issue")
    first, second = queued
    jobs_lib.fail(region.engine, second, "测试：已结束的任务")  # ended: never stamped

    def alive(job_id: int) -> dict:
        with read_session(region.engine) as s:
            return json.loads(s.get(Job, job_id).result or "{}").get("alive", {})

    tasks._start_heartbeat("w9@test")
    thread = tasks._heartbeat["thread"]
    try:
        stamps = set()
        for _ in range(200):  # ten beats at most
            stamps.add(alive(first).get("w9@test"))
            if len(stamps - {None}) >= 2:
                break
            time.sleep(0.05)
        assert len(stamps - {None}) >= 2, stamps  # it beats again and again
        assert not progress(aud, first)["stalled"] and progress(aud, first)["last_alive_at"]
    finally:
        tasks._stop_heartbeat()
        thread.join(5)
        for engine in tasks._engines.values():
            engine.dispose()
    assert not thread.is_alive() and "thread" not in tasks._heartbeat
    last = alive(first)
    time.sleep(0.2)
    assert alive(first) == last and alive(second) == {}


# -- the job page: names, the web reissue, the final review, the preview --------------


def _work(region, job_id: int) -> None:
    """What the worker does with a queued job, every chunk."""
    for i in plan(region, job_id):
        assert run(region, job_id, i) == "done"


def _name_account(region, username: str, display_name: str) -> None:
    from issuer.models import StaffAccount

    with write_session(region.engine) as s:
        s.scalars(
            select(StaffAccount).where(StaffAccount.username == username)
        ).one().display_name = display_name


def _text_of(page: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:td|p|span|strong)>', page, re.S)
    assert m, element_id
    return re.sub(r"<[^>]+>", "", m.group(1))


def test_the_job_pages_name_the_school_and_the_person_who_started_it(app, region, keys, queued):
    _name_account(region, "auditor", "师训办审核员")
    aud = signed_in(app, region, "auditor")
    start(aud, "issue", SCHOOL_A[0])
    start(aud, "issue")
    page = aud.get(f"/office/jobs/{queued[0]}").get_data(as_text=True)
    assert _text_of(page, "job-scope") == SCHOOL_A[1]  # the name, not the code
    assert _text_of(page, "job-starter") == "师训办审核员"
    assert "staff:auditor" not in page
    assert (
        _text_of(aud.get(f"/office/jobs/{queued[1]}").get_data(as_text=True), "job-scope")
        == "全区（所有学校）"
    )
    listing = aud.get("/office/jobs").get_data(as_text=True)
    rows = re.findall(r"<tr><td><a href=\"/office/jobs/\d+\">.*?</tr>", listing, re.S)
    assert len(rows) == 2 and SCHOOL_A[1] in rows[1] and "全区" in rows[0]
    assert all("师训办审核员" in r and "staff:auditor" not in r for r in rows)
    assert progress(aud, queued[0])["school"] == SCHOOL_A[0]  # the JSON keeps the code


def test_a_revoked_teacher_refused_by_a_job_is_reissued_from_its_page(app, region, keys, queued):
    aud = signed_in(app, region, "auditor")
    start(aud, "issue")
    _work(region, queued[0])
    revoked = number_of(region, region.a[1])
    region.run("revoke", revoked, "--reason", "测试撤销")
    start(aud, "issue")
    _work(region, queued[1])
    page = aud.get(f"/office/jobs/{queued[1]}").get_data(as_text=True)
    assert "ecert issue" not in page and "--teacher" not in page  # no command for the clerk to run
    assert "李娜" in page and "证书已撤销" in page
    forms = re.findall(r'<form method="post" action="(/office/teachers/[^"]+/reissue)"', page)
    assert forms == [f"/office/teachers/{revoked}/reissue"]

    r = aud.post(forms[0], data={"csrf_token": csrf(aud, f"/office/jobs/{queued[1]}")})
    assert r.status_code == 302 and r.headers["Location"] == f"/office/jobs/{queued[2]}"
    _work(region, queued[2])
    assert progress(aud, queued[2])["counts"] == {"issued": 0, "reissued": 1, "unchanged": 0, "refused": 0}
    assert json.loads(region.run("show", revoked, "--json").stdout)["status"] == "current"
    assert aud.post(forms[0], data={}).status_code == 400  # no CSRF token


def test_the_final_review_is_offered_from_december_of_the_cycles_last_year(app, region, keys, queued, clock):
    aud = signed_in(app, region, "auditor")
    page = aud.get("/office/jobs").get_data(as_text=True)
    assert re.search(r'<input type="checkbox" name="final" value="1" disabled>', page)
    assert "2028-12-01" in page  # from when
    token = csrf(aud, "/office/jobs")
    r = aud.post("/office/jobs", data={"kind": "issue", "final": "1", "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/office/jobs"
    assert "2028-12-01 起" in aud.get("/office/jobs").get_data(as_text=True) and queued == []

    clock.move_to("2028-12-05")
    page = aud.get("/office/jobs").get_data(as_text=True)
    assert re.search(r'<input type="checkbox" name="final" value="1">', page)
    assert 'name="final_on" value="2028-12-05"' in page
    form = {"kind": "issue", "final": "1", "csrf_token": token}
    for refused, said in (
        ({"final_on": "2028-12-06"}, "晚于今天"),
        ({"final_on": "2028-11-30"}, "2028-12-01 起"),
        ({"final_on": "12/05/2028"}, "终审日期格式不正确"),
        ({"kind": "render"}, "只有签发证书的任务可以是终审"),
    ):
        r = aud.post("/office/jobs", data={**form, **refused})
        assert r.status_code == 302 and said in aud.get("/office/jobs").get_data(as_text=True), refused
    assert queued == []

    r = aud.post("/office/jobs", data={**form, "school": SCHOOL_A[0], "final_on": "2028-12-03"})
    assert r.headers["Location"] == f"/office/jobs/{queued[0]}"
    page = aud.get(f"/office/jobs/{queued[0]}").get_data(as_text=True)
    assert "终审" in _text_of(page, "job-final") and "2028-12-03" in page
    _work(region, queued[0])
    assert progress(aud, queued[0])["counts"]["issued"] == 2
    for idn in region.a:
        shown = json.loads(region.run("show", number_of(region, idn), "--json").stdout)
        assert shown["verdict"] in ("qualified", "not_qualified"), shown  # a final verdict
    start(aud, "issue", SCHOOL_B[0])  # not final: B's teacher's certificate says the cycle is under way
    _work(region, queued[1])
    shown = json.loads(region.run("show", number_of(region, region.b[0]), "--json").stdout)
    assert shown["verdict"] == "in_progress"
    with read_session(region.engine) as s:
        assert json.loads(s.get(Job, queued[0]).params)["as_of"] == "2028-12-03"


def _preview(c, **form):
    return c.post(
        "/office/jobs/preview", data={"kind": "issue", "csrf_token": csrf(c, "/office/jobs"), **form}
    )


def _counts_of(page: str) -> dict:
    return {k: int(v) for k, v in re.findall(r'id="preview-(\w+)">(\d+)</td>', page)}


def test_the_preview_lists_what_a_job_would_do_signs_nothing_and_starts_it(app, region, keys, queued):
    aud = signed_in(app, region, "auditor")
    start(aud, "issue", SCHOOL_B[0])
    _work(region, queued[0])
    revoked = number_of(region, region.b[0])
    region.run("revoke", revoked, "--reason", "测试撤销")

    def register() -> tuple:
        with read_session(region.engine) as s:
            return (
                s.scalar(select(func.count()).select_from(Certificate)),
                s.scalar(select(func.count()).select_from(AuditEntry)),
            )

    before = register()
    r = _preview(aud)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "没有签名，也没有写入任何数据" in page
    assert _counts_of(page) == {"issued": 2, "reissued": 0, "unchanged": 0, "refused": 1}
    assert "首次签发：2 人" in page and "王芳" in page and "李娜" in page and SCHOOL_A[1] in page
    refused = page[page.index('id="preview-list-refused"') :]
    assert (
        revoked in refused and "张伟" in refused and "证书已撤销" in refused and "ecert issue" not in refused
    )
    assert register() == before and queued == [queued[0]]  # nothing signed, stored or queued

    # one school: its start button starts that job, which does what the preview said
    page = _preview(aud, school=SCHOOL_A[0]).get_data(as_text=True)
    assert _text_of(page, "preview-scope") == SCHOOL_A[1]
    assert _counts_of(page) == {"issued": 2, "reissued": 0, "unchanged": 0, "refused": 0}
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    assert form["kind"] == "issue" and form["school"] == SCHOOL_A[0] and "final" not in form
    r = aud.post("/office/jobs", data=form)
    assert r.headers["Location"] == f"/office/jobs/{queued[1]}"
    _work(region, queued[1])
    assert progress(aud, queued[1])["counts"] == {"issued": 2, "reissued": 0, "unchanged": 0, "refused": 0}
    page = _preview(aud, school=SCHOOL_A[0]).get_data(as_text=True)
    assert _counts_of(page)["unchanged"] == 2 and "内容未变化：2 人" in page

    # a render has nothing to preview; a school outside the region, a missing token
    r = _preview(aud, kind="render")
    assert r.status_code == 302 and "预览只适用于签发证书" in aud.get("/office/jobs").get_data(as_text=True)
    assert _preview(aud, school="9999999999").status_code == 404
    assert aud.post("/office/jobs/preview", data={"kind": "issue"}).status_code == 400


def test_a_final_review_preview_keeps_its_day_for_the_job(app, region, keys, queued, clock):
    clock.move_to("2028-12-05")
    aud = signed_in(app, region, "auditor")
    page = _preview(aud, final="1", final_on="2028-12-02").get_data(as_text=True)
    assert "签发预览（终审）" in page and "2028-12-02" in page
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    assert form["final"] == "1" and form["final_on"] == "2028-12-02"
    aud.post("/office/jobs", data=form)
    with read_session(region.engine) as s:
        assert json.loads(s.get(Job, queued[0]).params)["final_on"] == "2028-12-02"
    r = _preview(aud, final="1", final_on="2028-11-02")
    assert r.status_code == 302 and "2028-12-01 起" in aud.get("/office/jobs").get_data(as_text=True)
