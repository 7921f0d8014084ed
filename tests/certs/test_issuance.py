"""Batch issuance, reissue, revocation and compromise, through `ecert` as the
bureau runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from issuer.db import make_engine
from issuer.models import AuditEntry, Certificate
from tests.builders import RECORD_HEADER, record_row
from tests.helpers import PASSPHRASE, show, verify

A, B, C = "6540040710000014", "6540040710000022", "6540040710000030"


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def states(db, number: str) -> list[tuple[int, str]]:
    with db.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                select(Certificate.version, Certificate.state)
                .where(Certificate.number == number)
                .order_by(Certificate.version)
            )
        ]


def test_issue_then_again_changes_nothing(keyed, bureau, db):
    out = keyed("issue").stdout
    assert "签发 3，重新签发 0，未变化 0，拒绝 0" in out
    assert "签发 0，重新签发 0，未变化 3，拒绝 0" in keyed("issue").stdout
    for n in (A, B, C):
        assert states(db, n) == [(1, "current")]
        cert = show(keyed, n)
        assert list(cert)[:6] == ["number", "version", "status", "token", "url", "valid_until"]
        assert cert["url"].endswith("/V/" + cert["token"]) and cert["valid_until"] == "2028-12-31"
        assert verify(keyed, cert["url"])["valid"] is True


def test_a_corrected_record_reissues_one_teacher_and_supersedes_the_old_version(keyed, bureau, files, db):
    keyed("issue")
    before = show(keyed, B)
    keyed(
        "records",
        "import",
        str(files.csv("fix.csv", RECORD_HEADER, [record_row(bureau[1], "X-ELE", grade="优秀")])),
    )
    assert "签发 0，重新签发 1，未变化 2" in keyed("issue").stdout
    after = show(keyed, B)
    assert (after["version"], after["check_code"]) == (2, before["check_code"])
    assert states(db, B) == [(1, "superseded"), (2, "current")]
    old = verify(keyed, before["token"])
    assert old["valid"] is False and [c["name"] for c in old["checks"] if not c["ok"]] == ["status"]
    assert "superseded by version 2" in old["checks"][3]["detail"]
    assert (old["outcome"], old["current"]["version"]) == ("superseded", 2)
    assert verify(keyed, after["token"])["valid"] is True
    # the CLI's banner says genuine and updated, not invalid, and exits 4 (verified, not valid)
    said = keyed("verify", before["token"], check=False)
    assert said.returncode == 4 and "证书真实，已更新" in said.stdout and "证书无效" not in said.stdout
    assert "现行第 2 版" in said.stdout


def test_final_review_qualified_until_the_extended_expiry(keyed, bureau, clock):
    keyed("issue")
    refused = keyed("issue", "--final", check=False)
    assert refused.returncode == 2 and "2028-12-01" in refused.stderr
    # the review's day must have come: no verdict as of a day still ahead
    ahead = keyed("issue", "--final", "--as-of", "2028-12-31", check=False)
    assert ahead.returncode == 2 and "晚于今天" in ahead.stderr
    clock.move_to("2028-12-31")
    assert "重新签发 3" in keyed("issue", "--final", "--as-of", "2028-12-31").stdout
    a, b = show(keyed, A), show(keyed, B)
    assert (a["verdict"], a["valid_until"]) == ("qualified", "2029-12-31")
    assert (b["verdict"], b["valid_until"]) == ("not_qualified", "2028-12-31")
    result = verify(keyed, a["token"], "--at", "2029-12-31")
    assert result["valid"] and result["certificate"]["status"] == "qualified"
    late = verify(keyed, a["token"], "--at", "2030-01-01")
    assert late["checks"][4]["ok"] is False and late["outcome"] == "expired"
    said = keyed("verify", a["token"], "--at", "2030-01-01", check=False)
    assert said.returncode == 4 and "证书真实，已过有效期" in said.stdout
    # a routine run afterwards does not undo the final review
    clock.move_to("2029-01-05")
    assert "未变化 3" in keyed("issue", "--as-of", "2029-01-05").stdout


def test_as_of_a_day_counts_the_records_completed_by_then_and_never_a_day_ahead(keyed, bureau):
    import json

    # the bureau's records were completed on 2025-06-01
    before = json.loads(keyed("credits", A, "--json", "--as-of", "2025-05-31").stdout)
    assert (before["buckets"]["total"], before["records"], before["as_of"]) == ("0.00", [], "2025-05-31")
    keyed("issue", "--as-of", "2025-05-31")
    assert verify(keyed, show(keyed, A)["token"])["certificate"]["credits"]["total"] == "0.00"
    keyed("issue")  # as of today: the records count, and the certificate is reissued
    assert verify(keyed, show(keyed, A)["token"])["certificate"]["credits"]["total"] == "90.00"
    for args in (("credits", A), ("issue",)):
        ahead = keyed(*args, "--as-of", "2099-01-01", check=False)
        assert ahead.returncode == 2 and "晚于今天" in ahead.stderr
    before = keyed("issue", "--as-of", "2020-01-01", check=False)  # before the cycle: nothing to certify
    assert before.returncode == 2 and "早于本周期开始" in before.stderr


def test_a_rotation_while_a_batch_runs_leaves_no_certificate_outside_its_keys_window(
    keyed, bureau, db, monkeypatch, tmp_path
):
    from issuer.certificates import issuance
    from issuer.certificates.keystore import Keystore
    from issuer.config import load_settings
    from issuer.db import write_session
    from verifier.profiles import load_profile

    monkeypatch.setattr(issuance, "CHUNK", 1)  # three chunks, a rotation after the first
    settings, profile = load_settings(), load_profile("horgos-7")
    store = Keystore(settings.keys_dir, "test")
    rotated = []

    def rotate_once(_n):
        if not rotated:
            with write_session(db) as s:
                rotated.append(store.rotate(s, profile.issuer_code))

    summary = issuance.Issuer(db, profile, store, settings.base_url, "test").run(
        issuance.IssueOptions(as_of=__import__("verifier.clock", fromlist=["x"]).today_in_china()),
        rotate_once,
    )
    assert summary.issued == 3 and rotated
    results = [verify(keyed, show(keyed, n)["token"]) for n in (A, B, C)]
    assert all(r["valid"] for r in results), [r["checks"] for r in results]
    assert [r["certificate"]["issuer"]["kid"] for r in results][1:] == [rotated[0][1].kid] * 2


def test_a_certificate_signed_outside_its_keys_window_is_re_signed_by_the_next_run(keyed, bureau, db):
    keyed("issue")
    # as a batch running across a rotation once left it: the key retired before the token's iat
    with db.begin() as c:
        c.execute(
            text("update signing_keys set not_after = :t"),
            {"t": __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").timezone.utc)},
        )
    assert verify(keyed, show(keyed, A)["token"])["outcome"] == "not_valid"
    keyed("keys", "init")  # a new active key (the old one reads as retired)
    assert "重新签发 3" in keyed("issue").stdout
    assert verify(keyed, show(keyed, A)["token"])["outcome"] == "valid"


def test_revoke_then_batch_refuses_and_a_single_reissue_restores(keyed, bureau, db):
    keyed("issue")
    token = show(keyed, C)["token"]
    assert keyed("revoke", C, "--reason", "重复登记").returncode == 0
    result = verify(keyed, token)
    assert result["valid"] is False and result["checks"][3]["message"].startswith("证书已被撤销")
    assert result["outcome"] == "revoked" and "✘ 证书已撤销" in keyed("verify", token, check=False).stdout
    assert "重复登记" in result["checks"][3]["detail"]
    out = keyed("issue").stdout
    assert "拒绝 1" in out and C in out
    again = keyed("revoke", C, "--reason", "x", check=False)
    assert again.returncode == 2
    keyed("issue", "--teacher", C)
    assert states(db, C) == [(1, "revoked"), (2, "current")]
    assert verify(keyed, show(keyed, C)["token"])["valid"] is True


def test_revoke_needs_a_reason_and_a_real_number(keyed, bureau):
    keyed("issue")
    assert keyed("revoke", A, "--reason", "  ", check=False).returncode == 2
    assert keyed("revoke", "6540040710000015", "--reason", "x", check=False).returncode == 2  # check char
    assert keyed("revoke", "6540040710009991", "--reason", "x", check=False).returncode == 3


def test_a_compromised_key_fails_its_later_tokens_until_they_are_reissued(keyed, bureau):
    keyed("issue")
    token = show(keyed, A)["token"]
    kid = verify(keyed, token)["certificate"]["issuer"]["kid"]
    keyed("keys", "rotate")
    keyed(
        "keys", "compromise", "--as-of", "2026-01-01", "--note", "备份盘丢失", "--", kid
    )  # a kid may begin with -
    result = verify(keyed, token)
    assert [c["name"] for c in result["checks"] if not c["ok"]] == ["key"]
    assert "重新签发 3" in keyed("issue").stdout
    fresh = verify(keyed, show(keyed, A)["token"])
    assert fresh["valid"] and fresh["certificate"]["issuer"]["kid"] != kid


def test_a_retired_key_still_verifies_what_it_signed(keyed, bureau):
    keyed("issue")
    token = show(keyed, A)["token"]
    keyed("keys", "rotate")
    assert verify(keyed, token)["valid"] is True
    assert "未变化 3" in keyed("issue").stdout  # rotation alone does not reissue


def test_offline_verification_with_the_jwks_and_a_signed_snapshot(keyed, bureau, tmp_path):
    keyed("issue")
    keyed("revoke", B, "--reason", "调离本市")
    jwks, status = tmp_path / "jwks.json", tmp_path / "status.json"
    keyed("keys", "jwks", "-o", str(jwks))
    keyed("status", "export", "-o", str(status))
    offline = ("--offline", "--jwks", str(jwks), "--status", str(status))
    assert verify(keyed, show(keyed, A)["token"], *offline)["valid"] is True
    revoked = verify(keyed, show(keyed, B)["token"], *offline)
    assert revoked["checks"][3]["ok"] is False and "snapshot" in revoked["checks"][3]["detail"]
    status.write_text(status.read_text(encoding="utf-8").replace("revoked", "current"), encoding="utf-8")
    tampered = keyed("verify", show(keyed, B)["token"], *offline, check=False)
    assert tampered.returncode == 1 and "signature does not verify" in tampered.stderr


def test_one_current_certificate_per_number_is_enforced_by_the_database(keyed, bureau, db):
    keyed("issue")
    with db.connect() as c:
        row = dict(c.execute(select(Certificate.__table__).where(Certificate.number == A)).mappings().one())
    row.pop("id")
    row["version"] = 2
    with pytest.raises(Exception, match="(?i)unique"), db.begin() as c:
        c.execute(Certificate.__table__.insert(), row)


def test_the_audit_log_chains_every_event_and_refuses_rewrites(keyed, bureau, db):
    keyed("issue")
    keyed("revoke", A, "--reason", "测试")
    assert "哈希链无断裂" in keyed("audit", "verify").stdout
    with db.connect() as c:
        actions = [r[0] for r in c.execute(select(AuditEntry.action).order_by(AuditEntry.seq))]
        actors = set(c.scalars(select(AuditEntry.actor)))
    assert actions == ["key-create", "issue", "issue", "issue", "revoke"] and actors == {"测试员"}
    for sql in ("update audit_log set actor = 'x' where seq = 2", "delete from audit_log where seq = 5"):
        with pytest.raises(Exception, match="append-only"), db.begin() as c:
            c.execute(text(sql))


def test_audit_verify_names_the_altered_entry(keyed, bureau, db, db_url):
    keyed("issue")
    with db.begin() as c:  # someone with the database owner's rights goes around the trigger
        if db.dialect.name == "sqlite":
            c.execute(text("drop trigger audit_log_no_update"))
        else:
            c.execute(text("alter table audit_log disable trigger audit_log_append_only"))
        c.execute(text("update audit_log set subject = '6540040710009999' where seq = 3"))
    result = keyed("audit", "verify", check=False)
    assert result.returncode == 1 and "entry 3" in result.stderr


def test_keys_need_the_passphrase_and_keep_private_keys_encrypted(keyed, monkeypatch, tmp_path):
    pems = sorted((tmp_path / "keys").glob("*.pem"))  # the token key and the PDF-signing key
    assert len(pems) == 2 and [p.name.endswith(".pdf-key.pem") for p in pems] == [True, False]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in pems)
    assert all(b"ENCRYPTED PRIVATE KEY" in p.read_bytes() for p in pems)
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", "wrong passphrase!")
    r = keyed("issue", check=False)
    assert r.returncode == 1 and "口令不正确" in r.stderr
    monkeypatch.delenv("ECERT_KEY_PASSPHRASE")
    r = keyed("keys", "rotate", check=False)
    assert r.returncode == 1 and "ECERT_KEY_PASSPHRASE" in r.stderr
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", "short")
    assert "至少" in keyed("keys", "rotate", check=False).stderr


def test_jwks_lists_every_key_with_its_window_and_status(keyed):
    import json

    keyed("keys", "rotate")
    keys = json.loads(keyed("keys", "jwks").stdout)["keys"]
    assert [k["status"] for k in keys] == ["retired", "active"]
    assert all({"kty", "crv", "x", "kid", "alg", "use", "not_before", "not_after"} <= set(k) for k in keys)
    assert keys[0]["not_after"] is not None and keys[1]["not_after"] is None
    assert all("d" not in k for k in keys)


def test_verify_exit_codes_and_hostile_input(keyed, bureau):
    keyed("issue")
    url = show(keyed, A)["url"]
    assert keyed("verify", url.lower(), check=False).returncode == 0
    for bad in (url[:-20], "////", "A" * 10_000, "证书"):
        r = keyed("verify", bad, "--json", check=False)
        assert r.returncode == 4 and '"valid": false' in r.stdout


def test_issue_for_one_school_only(keyed, bureau, db):
    unknown = keyed("issue", "--school", "9999999999", check=False)  # a typo, not an empty school
    assert unknown.returncode == 3 and "没有学校代码为 9999999999" in unknown.stderr
    assert "签发 3" in keyed("issue", "--school", "6540040001").stdout
    with db.connect() as c:
        assert c.scalar(select(func.count()).select_from(Certificate)) == 3


# -- the keys first; a dry run that takes none ------------------------------------


def counts_of(db) -> tuple[int, int, int]:
    """Certificates, audit entries, and the last entry's number."""
    with db.connect() as c:
        return (
            c.scalar(select(func.count()).select_from(Certificate)),
            c.scalar(select(func.count()).select_from(AuditEntry)),
            c.scalar(select(func.max(AuditEntry.seq))),
        )


@pytest.fixture
def no_sheets(monkeypatch):
    """Computing a credit sheet, or counting the teachers for the bar, fails the test."""
    from issuer.certificates import issuance

    def never(*a, **k):
        raise AssertionError("a sheet was computed before the keys were opened")

    monkeypatch.setattr(issuance, "all_sheets", never)
    monkeypatch.setattr(issuance, "sheet_for", never)
    monkeypatch.setattr(issuance.Issuer, "count", never)


@pytest.mark.parametrize(
    "passphrase, said",
    [
        ("wrong passphrase!", "签名密钥口令不正确"),
        (None, "未设置签名密钥口令：请在环境变量 ECERT_KEY_PASSPHRASE 中提供"),
    ],
)
def test_issue_checks_the_passphrase_before_any_sheet_or_bar(
    keyed, bureau, db, monkeypatch, no_sheets, passphrase, said
):
    before = counts_of(db)
    if passphrase is None:
        monkeypatch.delenv("ECERT_KEY_PASSPHRASE")
    else:
        monkeypatch.setenv("ECERT_KEY_PASSPHRASE", passphrase)
    for args in (("issue",), ("issue", "--teacher", A)):
        r = keyed(*args, check=False)
        assert r.returncode == 1 and said in r.stderr, r.stderr
        assert "签发证书" not in r.stderr and "Traceback" not in r.stderr  # no bar was shown
        assert counts_of(db) == before  # nothing issued, nothing logged


def test_issue_opens_the_pdf_signing_key_too_before_any_sheet(keyed, bureau, db, tmp_path, no_sheets):
    (pdf_key,) = (tmp_path / "keys").glob("*.pdf-key.pem")
    pdf_key.rename(tmp_path / "elsewhere.pem")
    r = keyed("issue", check=False)
    assert r.returncode == 1 and "找不到 PDF 签章私钥文件" in r.stderr and "签发证书" not in r.stderr
    assert counts_of(db)[0] == 0


def test_a_dry_run_lists_what_a_run_then_does_and_changes_nothing(
    keyed, bureau, files, db, monkeypatch, tmp_path
):
    import json

    keys_before = sorted((p.name, p.read_bytes()) for p in (tmp_path / "keys").iterdir())
    before = counts_of(db)
    monkeypatch.delenv("ECERT_KEY_PASSPHRASE")  # a dry run takes no key
    plan = json.loads(keyed("issue", "--dry-run", "--json").stdout)
    assert plan["counts"] == {"issued": 3, "reissued": 0, "unchanged": 0, "refused": 0}
    assert [t["number"] for t in plan["teachers"]] == [A, B, C]
    assert plan["teachers"][0] == {
        "number": A,
        "name": "热依拉·阿不都热合曼",
        "school": "6540040001",
        "action": "issued",
        "reason": "首次签发",
        "detail": "first certificate",
    }
    text = keyed("issue", "--dry-run").stdout
    assert "将签发 3，重新签发 0，未变化 0，拒绝 0" in text and "热依拉·阿不都热合曼" in text
    assert counts_of(db) == before  # no certificate, no audit entry
    assert sorted((p.name, p.read_bytes()) for p in (tmp_path / "keys").iterdir()) == keys_before
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", PASSPHRASE)
    assert "签发 3，重新签发 0，未变化 0，拒绝 0" in keyed("issue").stdout  # as the dry run said

    # one record corrected, one certificate revoked: each kind of decision, with its reason
    keyed(
        "records",
        "import",
        str(files.csv("fix.csv", RECORD_HEADER, [record_row(bureau[1], "X-ELE", grade="优秀")])),
    )
    keyed("revoke", C, "--reason", "重复登记")
    before = counts_of(db)
    plan = json.loads(keyed("issue", "--dry-run", "--json").stdout)
    assert plan["counts"] == {"issued": 0, "reissued": 1, "unchanged": 1, "refused": 1}
    by_number = {t["number"]: (t["action"], t["reason"]) for t in plan["teachers"]}
    assert by_number[A] == ("unchanged", "内容未变化")
    assert by_number[B][0] == "reissued" and "证书内容有变化" in by_number[B][1]
    assert by_number[C][0] == "refused" and "证书已撤销" in by_number[C][1]
    text = keyed("issue", "--dry-run").stdout
    assert "重新签发 1" in text and "拒绝 1" in text and "ecert issue --teacher" in text
    assert counts_of(db) == before
    assert states(db, B) == [(1, "current")]
    assert "签发 0，重新签发 1，未变化 1，拒绝 1" in keyed("issue").stdout

    # a single reissue after revocation, previewed and done
    plan = json.loads(keyed("issue", "--teacher", C, "--dry-run", "--json").stdout)
    assert plan["counts"]["reissued"] == 1 and plan["teachers"][0]["reason"] == "撤销后单独重新签发"
    assert "重新签发 1" in keyed("issue", "--teacher", C).stdout


def test_a_dry_run_sees_a_compromised_keys_certificates_to_re_sign(keyed, bureau):
    import json

    keyed("issue")
    kid = verify(keyed, show(keyed, A)["token"])["certificate"]["issuer"]["kid"]
    keyed("keys", "rotate")
    keyed("keys", "compromise", "--as-of", "2026-01-01", "--", kid)
    plan = json.loads(keyed("issue", "--dry-run", "--json").stdout)
    assert plan["counts"]["reissued"] == 3
    assert all("泄露" in t["reason"] and "compromised" in t["detail"] for t in plan["teachers"])
    assert "重新签发 3" in keyed("issue").stdout


def test_json_goes_with_a_dry_run(keyed, bureau, db):
    r = keyed("issue", "--json", check=False)
    assert r.returncode == 2 and "--json 只用于 --dry-run" in r.stderr
    assert counts_of(db)[0] == 0
