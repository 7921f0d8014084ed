"""Declare → recognise: a school's records wait for the bureau, count only
once recognised, and nobody reaches outside their scope."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from issuer.db import read_session, write_session
from issuer.errors import InputRefused, NotFound
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.report import ImportRefused
from issuer.models import AuditEntry, TrainingRecord
from issuer.office import review, staff
from issuer.office.passwords import SignInError
from tests.builders import record_row
from tests.helpers import SCHOOL_A, SCHOOL_B, scope_of


def _total(region, idn) -> str:
    return json.loads(region.run("credits", idn, "--json").stdout)["buckets"]["total"]


def _declare(region, user, rows, name="decl.csv"):
    scope = scope_of(region.engine, user)
    with write_session(region.engine) as s:
        return import_records(s, region.records_file(name, rows), school=scope.school_code)


def test_declared_records_count_only_once_recognised(region):
    result = _declare(region, "reg-a", [record_row(region.a[0], "X-PRO"), record_row(region.a[0], "X-ELE")])
    assert result.created == 2
    assert _total(region, region.a[0]) == "0.00"
    auditor = scope_of(region.engine, "auditor")
    with write_session(region.engine) as s:
        ids = list(s.scalars(select(TrainingRecord.id).where(TrainingRecord.status == "declared")))
        assert review.recognise(s, auditor, ids[:1]) == 1
    assert _total(region, region.a[0]) == "10.00"  # 40 centralised hours at 4 a credit
    with write_session(region.engine) as s:
        assert review.recognise_school(s, auditor, SCHOOL_A[0]) == 1
    assert _total(region, region.a[0]) == "15.00"
    assert "哈希链无断裂" in region.run("audit", "verify").stdout
    with read_session(region.engine) as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "staff:auditor")))
    assert actions == ["records-recognise", "records-recognise"]


def test_the_queue_shows_what_the_rules_would_give(region):
    from verifier.profiles import load_profile

    _declare(region, "reg-a", [record_row(region.a[0], "X-PRO", grade="优秀")])
    with read_session(region.engine) as s:
        rows = review.records(s, load_profile("horgos-7"), scope_of(region.engine, "auditor"))
    assert len(rows) == 1 and rows[0].status == "declared"
    assert rows[0].credit.counts and rows[0].credit.credits > rows[0].credit.basic  # 优秀 earns a reward
    assert rows[0].id_masked.startswith("*") and region.a[0] not in repr(rows[0])


def test_a_registrar_cannot_declare_another_schools_teacher(region):
    with pytest.raises(ImportRefused) as e:
        _declare(region, "reg-a", [record_row(region.a[0], "X-PRO"), record_row(region.b[0], "X-PRO")])
    assert [err.row for err in e.value.errors] == [3] and "本校" in e.value.errors[0].message
    with read_session(region.engine) as s:
        assert s.scalar(select(TrainingRecord.id)) is None  # nothing stored, not even row 2


def test_a_school_cannot_change_a_record_the_bureau_recognised(region):
    region.run(
        "records", "import", str(region.records_file("bureau.csv", [record_row(region.a[0], "X-PRO")]))
    )
    with pytest.raises(ImportRefused) as e:
        _declare(region, "reg-a", [record_row(region.a[0], "X-PRO", grade="优秀")])
    assert "已由教育局认定" in e.value.errors[0].message
    assert _total(region, region.a[0]) == "10.00"


def test_a_rejection_needs_a_reason_and_a_new_declaration_reopens_it(region):
    _declare(region, "reg-a", [record_row(region.a[1], "X-ELE")])
    auditor = scope_of(region.engine, "auditor")
    with write_session(region.engine) as s:
        rid = s.scalar(select(TrainingRecord.id))
        with pytest.raises(InputRefused):
            review.reject(s, auditor, [rid], "   ")
        assert review.reject(s, auditor, [rid], "证明材料不全") == 1
    with read_session(region.engine) as s:
        rec = s.get(TrainingRecord, rid)
        assert (rec.status, rec.reject_reason, rec.reviewed_by) == (
            "rejected",
            "证明材料不全",
            "staff:auditor",
        )
    _declare(region, "reg-a", [record_row(region.a[1], "X-ELE", done="2025-07-01")], "again.csv")
    with read_session(region.engine) as s:
        rec = s.get(TrainingRecord, rid)
        assert (rec.status, rec.reject_reason) == ("declared", None)


def test_decisions_stay_inside_scope(region):
    _declare(region, "reg-b", [record_row(region.b[0], "X-PRO")])
    reg_a = scope_of(region.engine, "reg-a")
    with write_session(region.engine) as s:
        rid = s.scalar(select(TrainingRecord.id))
        with pytest.raises(NotFound):
            review.recognise(s, reg_a, [rid])  # a registrar does not review
        with pytest.raises(NotFound):
            review.recognise(s, scope_of(region.engine, "auditor"), [rid, 99999])  # all or nothing
    with read_session(region.engine) as s:
        assert s.get(TrainingRecord, rid).status == "declared"
        assert review.pending_by_school(s, reg_a) == []
        with pytest.raises(NotFound):
            reg_a.school_or_own(SCHOOL_B[0])
        assert s.scalar(select(AuditEntry.seq).where(AuditEntry.action.like("records-%"))) is None


def test_declare_one_checks_like_a_file_row(region):
    reg_a = scope_of(region.engine, "reg-a")
    good = {
        "id_number": region.a[0],
        "project_code": "S-SCH",
        "grade": "合格",
        "role": "学员",
        "completed_on": "2025-05-04",
    }
    with write_session(region.engine) as s:
        with pytest.raises(InputRefused, match="本校"):
            review.declare_one(s, reg_a, {**good, "id_number": region.b[0]})
        with pytest.raises(InputRefused, match="完成日期"):
            review.declare_one(s, reg_a, {**good, "completed_on": "2025-13-01"})
        with pytest.raises(InputRefused, match="完成日期.*晚于今天"):
            review.declare_one(s, reg_a, {**good, "completed_on": "2099-01-01"})
        rid = review.declare_one(s, reg_a, good)
    with read_session(region.engine) as s:
        assert s.get(TrainingRecord, rid).status == "declared"


def test_staff_accounts_refuse_bad_input_and_never_lock(region):
    with write_session(region.engine) as s:
        for args in (
            ("Bad Name", "x", "admin", None),
            ("okname", "x", "chief", None),
            ("okname", "x", "registrar", None),
            ("okname", "x", "registrar", "0000000000"),
            ("okname", "x", "auditor", SCHOOL_A[0]),
            ("reg-a", "x", "admin", None),
        ):
            with pytest.raises(InputRefused):
                staff.create_account(s, *args)
    # wrong passwords lock no account (the web throttles per client and account instead)
    for _ in range(6):
        with write_session(region.engine) as s, pytest.raises(SignInError):
            staff.authenticate(s, "auditor", "wrong")
    with write_session(region.engine) as s:
        assert staff.authenticate(s, "auditor", region.codes["auditor"]).username == "auditor"


def test_api_tokens_act_as_their_account_until_revoked(region):
    with write_session(region.engine) as s:
        token = staff.create_token(s, "reg-a", "学籍系统")
    with read_session(region.engine) as s:
        assert staff.account_for_token(s, token).username == "reg-a"
        assert staff.account_for_token(s, token[:-1] + "x") is None
        assert staff.account_for_token(s, "Bearer " + token) is None
    with write_session(region.engine) as s:
        assert staff.revoke_tokens(s, "reg-a") == 1
    with read_session(region.engine) as s:
        assert staff.account_for_token(s, token) is None


def test_api_tokens_expire_and_end_with_a_reset_or_a_disabled_account(region, clock):
    with write_session(region.engine) as s:
        short, long = staff.create_token(s, "reg-a", "短期", days=1), staff.create_token(s, "reg-b", "长期")
    clock.move_to(
        __import__("datetime").datetime.now(__import__("datetime").timezone.utc)
        + __import__("datetime").timedelta(days=2)
    )
    with read_session(region.engine) as s:
        assert staff.account_for_token(s, short) is None  # expired
        assert staff.account_for_token(s, long).username == "reg-b"
    said = region.run("staff", "disable", "reg-b").stdout
    assert "作废接口令牌 1 个" in said
    with read_session(region.engine) as s:
        assert staff.account_for_token(s, long) is None
    with write_session(region.engine) as s, pytest.raises(SignInError):
        staff.authenticate(s, "reg-b", region.codes["reg-b"])
    code = region.run("staff", "enable", "reg-b").stdout.split("：")[-1].strip()
    with write_session(region.engine) as s:
        assert staff.authenticate(s, "reg-b", code).username == "reg-b"
        again = staff.create_token(s, "reg-b", "新")
    region.run("staff", "reset", "reg-b")
    with read_session(region.engine) as s:
        assert staff.account_for_token(s, again) is None  # a reset ends the tokens too
    with write_session(region.engine) as s:
        token = staff.create_token(s, "reg-a", "学籍系统")
    assert (
        "作废 reg-a 的接口令牌 1 个"
        in region.run("staff", "revoke-token", "reg-a", "--name", "学籍系统").stdout
    )
    with read_session(region.engine) as s:
        assert staff.account_for_token(s, token) is None


def test_staff_add_with_exist_ok_leaves_an_identical_account_alone(region):
    out = region.run(
        "staff", "add", "reg-a", "--role", "registrar", "--school", SCHOOL_A[0], "--exist-ok"
    ).stdout
    assert "已存在" in out
    with write_session(region.engine) as s:  # the first one-time code still signs in
        assert staff.authenticate(s, "reg-a", region.codes["reg-a"]).username == "reg-a"
    refused = region.run("staff", "add", "reg-a", "--role", "auditor", "--exist-ok", check=False)
    assert refused.returncode == 2 and "已存在" in refused.stdout + refused.stderr


def test_a_whole_school_or_project_is_decided_only_for_the_count_confirmed(region):
    _declare(
        region,
        "reg-a",
        [
            record_row(region.a[0], "X-PRO"),
            record_row(region.a[1], "X-PRO"),
            record_row(region.a[0], "X-ELE"),
        ],
    )
    _declare(region, "reg-b", [record_row(region.b[0], "X-PRO")], "b.csv")
    auditor = scope_of(region.engine, "auditor")
    with read_session(region.engine) as s:
        assert review.count(s, auditor, school=SCHOOL_A[0]) == 3
        assert review.count(s, auditor, school=SCHOOL_A[0], project="X-PRO") == 2
        assert review.projects_of(s, auditor, SCHOOL_A[0]) == [
            ("X-ELE", "X-ELE 培训", 1),
            ("X-PRO", "X-PRO 培训", 2),
        ]
    with write_session(region.engine) as s:  # confirmed for 1, but 2 are pending now
        with pytest.raises(InputRefused, match="现为 2 条.*确认时的 1 条"):
            review.decide_all(s, auditor, SCHOOL_A[0], "recognised", expected=1, project="X-PRO")
        with pytest.raises(InputRefused, match="退回须写明原因"):
            review.decide_all(s, auditor, SCHOOL_A[0], "rejected", expected=2, project="X-PRO", reason=" ")
    with read_session(region.engine) as s:
        assert review.count(s, auditor, school=SCHOOL_A[0]) == 3  # nothing changed
    with write_session(region.engine) as s:
        assert (
            review.decide_all(
                s, auditor, SCHOOL_A[0], "rejected", expected=2, project="X-PRO", reason="缺少证明"
            )
            == 2
        )
    with read_session(region.engine) as s:
        decided = s.execute(
            select(TrainingRecord.project_code, TrainingRecord.status).where(
                TrainingRecord.status != "declared"
            )
        ).all()
        assert sorted(decided) == [("X-PRO", "rejected"), ("X-PRO", "rejected")]
        assert review.count(s, auditor, school=SCHOOL_A[0]) == 1  # X-ELE waits
        assert review.count(s, auditor, school=SCHOOL_B[0]) == 1  # the other school is untouched
        (entry,) = s.scalars(select(AuditEntry).where(AuditEntry.action == "records-reject"))
        assert entry.subject == SCHOOL_A[0] and json.loads(entry.detail)["count"] == 2
    with write_session(region.engine) as s:
        assert review.decide_all(s, auditor, SCHOOL_A[0], "recognised", expected=1) == 1
        with pytest.raises(NotFound):
            review.decide_all(s, scope_of(region.engine, "reg-a"), SCHOOL_A[0], "recognised")
        with pytest.raises(NotFound):
            review.decide_all(s, auditor, "0000000000", "recognised")
