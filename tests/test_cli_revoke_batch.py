"""`ecert revoke-batch`: a batch issued in error revoked from the command
line, by the issue job that signed it or by school and issue day, as the
office's page does it: the certificates listed, their number typed back
(or given as --yes N), then all revoked in one transaction with one audit
entry each, or none."""

from __future__ import annotations

from datetime import timedelta

import pytest

from issuer.db import write_session
from tests.builders import record_row
from tests.helpers import (
    PASSPHRASE,
    SCHOOL_A,
    SCHOOL_B,
    newest_states,
    number_of,
    plan,
    revocations,
    run,
    show,
    verify,
)
from verifier.clock import today_in_china

ACTOR = "测试员"


@pytest.fixture
def keyed_region(region, monkeypatch, tmp_path):
    """The region of two schools, with a signing key and a named operator."""
    monkeypatch.setenv("ECERT_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("ECERT_ACTOR", ACTOR)
    region.run("keys", "init")
    return region


def ecert(*args: str, input: str | None = None):
    """`ecert ARGS` with what is typed at its prompt (the run_ecert fixture's
    environment, which the region set, still holds)."""
    from click.testing import CliRunner

    from issuer.cli import main

    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def _issue_job(region) -> int:
    """An issue job of the whole region, as the office starts it, worked to its end."""
    from issuer.config import load_settings
    from issuer.office import jobs as jobs_lib
    from issuer.office.staff import Scope

    queued: list[int] = []
    job_id = jobs_lib.start(
        region.engine, load_settings(), Scope.command_line(ACTOR), "issue", None, queued.append
    )
    assert queued == [job_id]
    for i in plan(region, job_id):
        assert run(region, job_id, i) == "done"
    return job_id


def _numbers(region) -> tuple[str, str, str]:
    return number_of(region, region.a[0]), number_of(region, region.a[1]), number_of(region, region.b[0])


def test_revoke_what_a_job_signed_after_typing_the_count_back(keyed_region):
    region = keyed_region
    job = _issue_job(region)
    a0, a1, b0 = _numbers(region)
    # since then a0 has a new version: the batch no longer stands there, and it is passed over
    region.run("records", "import", str(region.records_file("more.csv", [record_row(region.a[0], "X-PRO")])))
    region.run("issue", "--teacher", a0)
    assert newest_states(region) == {a0: (2, "current"), a1: (1, "current"), b0: (1, "current")}

    r = ecert("revoke-batch", "--job", str(job), "--reason", "  误用  测试数据 ", input="2\n")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert f"任务 #{job} 签发的证书" in out and "将撤销 2 份现行证书" in out and "不再撤销 1 份" in out
    assert a1 in out and b0 in out and a0 not in out and "李娜" in out and "张伟" in out
    assert "请输入将撤销的份数 2 以确认" in r.stderr
    assert "已撤销 2 份证书，原因：误用 测试数据" in out
    assert newest_states(region) == {a0: (2, "current"), a1: (1, "revoked"), b0: (1, "revoked")}

    # one audit entry per certificate, the batch named in each, the chain intact
    detail = {"version": 1, "reason": "误用 测试数据", "batch": {"job": job}, "actor": ACTOR}
    assert revocations(region) == [(a1, detail), (b0, detail)]
    region.run("audit", "verify")
    # the verifier says so
    for number in (a1, b0):
        assert verify(region.run, show(region.run, number)["url"])["outcome"] == "revoked"
    assert verify(region.run, show(region.run, a0)["url"])["outcome"] == "valid"

    # again: nothing current is left of that batch
    r = ecert("revoke-batch", "--job", str(job), "--reason", "再次", "--yes", "2")
    assert r.exit_code == 3 and "没有可撤销的现行证书" in r.stderr and "没有撤销任何证书" in r.stderr
    assert len(revocations(region)) == 2


def test_revoke_a_schools_certificates_issued_on_a_day_with_yes(keyed_region):
    region = keyed_region
    region.run("issue")
    a0, a1, b0 = _numbers(region)
    today = today_in_china()
    yesterday = today - timedelta(days=1)
    r = ecert("revoke-batch", "--school", SCHOOL_A[0], "--issued-on", yesterday.isoformat(), "--reason", "x")
    assert r.exit_code == 3 and "没有可撤销的现行证书" in r.stderr

    by_day = ["revoke-batch", "--school", SCHOOL_A[0], "--issued-on", today.isoformat()]
    r = ecert(*by_day, "--reason", "名册导入错误", "--yes", "2")
    assert r.exit_code == 0, r.output
    assert SCHOOL_A[1] in r.stdout and a0 in r.stdout and a1 in r.stdout and b0 not in r.stdout
    assert "请输入" not in r.output  # --yes asks nothing
    assert newest_states(region) == {a0: (1, "revoked"), a1: (1, "revoked"), b0: (1, "current")}
    batch = {"school": SCHOOL_A[0], "issued_on": today.isoformat()}
    assert revocations(region) == [
        (n, {"version": 1, "reason": "名册导入错误", "batch": batch, "actor": ACTOR}) for n in (a0, a1)
    ]
    region.run("audit", "verify")
    assert verify(region.run, show(region.run, a0)["url"])["outcome"] == "revoked"
    assert verify(region.run, show(region.run, b0)["url"])["outcome"] == "valid"


def test_a_count_other_than_the_batchs_revokes_nothing(keyed_region, monkeypatch):
    region = keyed_region
    region.run("issue")
    a0, a1, _ = _numbers(region)
    by_day = ["revoke-batch", "--school", SCHOOL_A[0], "--issued-on", today_in_china().isoformat()]
    for extra, typed, said in (
        (["--yes", "3"], None, "--yes 3 与将撤销的份数 2 不符"),
        (["--yes", "1"], None, "--yes 1 与将撤销的份数 2 不符"),
        ([], "3\n", "未确认（应输入 2）"),
        ([], "\n", "未确认（应输入 2）"),
        ([], "", "未确认（应输入 2）"),  # no answer at all (end of input)
    ):
        r = ecert(*by_day, "--reason", "错发", *extra, input=typed)
        assert r.exit_code == 2, (extra, typed, r.output)
        assert said in r.stderr and "没有撤销任何证书" in r.stderr
        assert "将撤销 2 份现行证书" in r.stdout  # it said what it would have revoked
    assert all(state == "current" for _, state in newest_states(region).values())
    assert revocations(region) == []

    # the batch changed while the prompt waited: the count typed no longer holds, nothing revoked
    import click

    from issuer.certificates import versions as register

    def someone_else_revokes_one(*args, **kwargs):
        with write_session(region.engine) as s:
            register.revoke(s, a0, "另有人先撤销了一份", "别人")
        return "2"

    monkeypatch.setattr(click, "prompt", someone_else_revokes_one)
    r = ecert(*by_day, "--reason", "错发")
    assert r.exit_code == 2 and "现在是 1 份，不是 2 份" in r.stderr and "没有撤销任何证书" in r.stderr
    assert newest_states(region)[a1] == (1, "current")
    assert [n for n, _ in revocations(region)] == [a0]


def test_a_dry_run_lists_every_certificate_and_revokes_nothing(keyed_region, monkeypatch):
    from issuer.cli import certs

    region = keyed_region
    job = _issue_job(region)
    a0, a1, b0 = _numbers(region)
    monkeypatch.setattr(certs, "BATCH_LISTED", 1)  # the confirmation lists one; a dry run every one
    r = ecert("revoke-batch", "--job", str(job), "--reason", "误用", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "将撤销 3 份现行证书" in r.stdout and "未撤销任何证书" in r.stdout
    assert all(n in r.stdout for n in (a0, a1, b0)) and "未列出" not in r.stdout
    assert "请输入" not in r.output
    assert all(state == "current" for _, state in newest_states(region).values())
    assert revocations(region) == []

    r = ecert("revoke-batch", "--job", str(job), "--reason", "误用", input="0\n")
    assert r.exit_code == 2 and "另有 2 份未列出" in r.stdout and a0 in r.stdout and b0 not in r.stdout
    assert revocations(region) == []

    r = ecert("revoke-batch", "--job", str(job), "--reason", "误用", "--dry-run", "--yes", "3")
    assert r.exit_code == 2 and "不能与 --yes 同用" in r.stderr
    assert revocations(region) == []


def test_what_names_no_batch_is_refused_and_revokes_nothing(keyed_region):
    region = keyed_region
    job = _issue_job(region)
    day = today_in_china().isoformat()
    for args, code, said in (
        (["--job", str(job), "--reason", "   "], 2, "批量撤销必须写明原因"),
        (["--job", str(job), "--reason", "长" * 501], 2, "撤销原因过长"),
        (["--job", "99999", "--reason", "x"], 3, "没有这个任务"),
        (
            ["--school", "9999999999", "--issued-on", day, "--reason", "x"],
            3,
            "名册中没有学校代码为 9999999999",
        ),
        (["--job", str(job), "--school", SCHOOL_B[0], "--issued-on", day, "--reason", "x"], 2, "只能选一种"),
        (["--school", SCHOOL_B[0], "--reason", "x"], 2, "请用 --job 指定签发任务"),
        (["--issued-on", day, "--reason", "x"], 2, "请用 --job 指定签发任务"),
        (["--reason", "x"], 2, "请用 --job 指定签发任务"),
        (["--job", "abc", "--reason", "x"], 2, "'--job' 的值不正确"),
        (["--school", SCHOOL_B[0], "--issued-on", "昨天", "--reason", "x"], 2, "'--issued-on' 的值不正确"),
        (["--job", str(job)], 2, "缺少选项 '--reason'"),
    ):
        r = ecert("revoke-batch", *args, "--yes", "3")
        assert r.exit_code == code and said in r.stderr, (args, r.output)
    # a render job signs nothing: it is no batch to revoke
    from issuer.config import load_settings
    from issuer.office import jobs as jobs_lib
    from issuer.office.staff import Scope

    render = jobs_lib.start(
        region.engine, load_settings(), Scope.command_line(ACTOR), "render", None, lambda _: None
    )
    r = ecert("revoke-batch", "--job", str(render), "--reason", "x", "--yes", "3")
    assert r.exit_code == 2 and "不是签发证书的任务" in r.stderr
    assert all(state == "current" for _, state in newest_states(region).values())
    assert revocations(region) == []


def test_the_help_is_bilingual_and_ends_with_examples(run_ecert):
    out = run_ecert("revoke-batch", "--help").stdout
    assert "批量撤销误发的证书" in out and "revoke a batch issued in error" in out
    assert "例 / example:" in out and "ecert revoke-batch --job 12" in out and "--issued-on" in out
    assert "revoke-batch" in run_ecert("--help").stdout
