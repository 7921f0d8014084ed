"""A leaked signing key, tried as an attacker would and then put right as
the README's key-compromise steps say, on SQLite and PostgreSQL.

The attacker holds a copy of the key's PEM file and its passphrase and
signs a token for a real number and its current version, its iat backdated
into the key's use window before the compromise, with a made-up holder and
tripled credits. The register binds every token it issued by its SHA-256,
so the forgery fails online and offline, before and after the bureau notices."""

from __future__ import annotations

import json
import re
import shlex
from datetime import timedelta
from pathlib import Path

import pytest

from tests.helpers import active_kid, forge, leaked_key, show, verify
from verifier.token import from_base32, parse

A = "6540040710000014"
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_steps(kid: str, as_of: str, out: Path) -> list[list[str]]:
    """The `ecert` lines of the README's "If a signing key leaks", with this
    test's kid, time and output folder in place of the README's examples."""
    text = README.read_text("utf-8")
    section = text[text.index("### If a signing key leaks") :]
    block = section[section.index("```sh") + 5 : section.index("```", section.index("```sh") + 5)]
    steps = []
    for line in block.splitlines():
        args = shlex.split(line, comments=True)
        if args[:1] == ["ecert"]:
            steps.append(
                [
                    {"KID": kid, "2027-03-01T09:00+08:00": as_of}.get(a, a.replace("public/", f"{out}/"))
                    for a in args[1:]
                ]
            )
    return steps


def _not_issued(result: dict) -> bool:
    status = result["checks"][3]
    return (
        result["valid"] is False
        and result["outcome"] == "not_valid"
        and status["name"] == "status"
        and "not issued by the register" in status["detail"]
        and [c["name"] for c in result["checks"] if not c["ok"]] == ["status"]
    )


def test_a_leaked_key_cannot_mint_a_certificate_online_or_offline(keyed, bureau, tmp_path):
    keys_dir, out = tmp_path / "keys", tmp_path / "published"
    keyed("issue")
    genuine = show(keyed, A)
    kid = active_kid(keyed)
    issued_at = parse(from_base32(genuine["token"])).claims.issued_at
    forged = forge(keys_dir, kid, genuine["token"], issued_at)  # the key's window opened just before

    # before anyone notices: the signature and the key are the bureau's, the token is not the register's
    before = verify(keyed, forged)
    assert _not_issued(before), before["checks"]
    assert before["certificate"]["holder"] == "冒名顶替"  # what it claims is shown as such, never as valid

    # the README's steps, as written there: mark the key compromised, rotate, reissue, republish
    said = {}
    for args in readme_steps(kid, (issued_at + timedelta(hours=1)).isoformat(), out):
        said[" ".join(args[:2])] = keyed(*args).stdout
    assert list(said) == [
        "keys list",
        "keys compromise",
        "keys rotate",
        "issue",
        "keys jwks",
        "status export",
    ]
    assert re.search(r"现行证书 3 份，其中 0 份签发于泄露时间之后", said["keys compromise"]), said
    assert "签发 0，重新签发 3，未变化 0" in said["issue"]  # all that the key signed, re-signed
    assert "未变化 3" in keyed("issue").stdout

    now = show(keyed, A)
    assert now["version"] == 2 and verify(keyed, now["url"])["valid"]
    # a forgery of the new current version too, still backdated into the old key's window
    forged_v2 = forge(keys_dir, kid, now["token"], issued_at)
    offline = ("--offline", "--jwks", str(out / "jwks.json"), "--status", str(out / "status.json"))
    for args in ((), offline):
        for token in (forged, forged_v2):
            result = verify(keyed, token, *args)
            assert _not_issued(result), (args, result["checks"])
        old = verify(keyed, genuine["token"], *args)
        assert old["outcome"] == "superseded" and old["current"]["version"] == 2, old
        assert verify(keyed, now["token"], *args)["outcome"] == "valid"

    # the CLI names the reason too, and exits 4 (verified, not valid)
    shown = keyed("verify", forged, check=False)
    assert shown.returncode == 4 and "不是登记系统签发的" in shown.stdout


def test_a_compromise_dated_before_the_issue_counts_those_it_now_fails(keyed, bureau):
    keyed("issue")
    issued_at = parse(from_base32(show(keyed, A)["token"])).claims.issued_at  # China time
    said = keyed(
        "keys",
        "compromise",
        "--as-of",
        (issued_at - timedelta(seconds=1)).isoformat(),
        "--",
        active_kid(keyed),
    ).stdout
    assert re.search(r"现行证书 3 份，其中 3 份签发于泄露时间之后", said), said


def _resigned(snapshot: dict, cose_key, kid: bytes) -> dict:
    """The snapshot signed again by whoever holds `cose_key`'s private half."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from verifier.status import canonical
    from verifier.token import b64u

    private = Ed25519PrivateKey.from_private_bytes(cose_key.to_dict()[-4])
    return {**snapshot, "kid": b64u(kid), "signature": b64u(private.sign(canonical(snapshot["snapshot"])))}


def test_no_snapshot_signed_with_a_compromised_key_is_trusted_whatever_its_date(keyed, bureau, tmp_path):
    out = tmp_path / "published"
    keyed("issue")
    genuine = show(keyed, A)
    kid = active_kid(keyed)
    issued_at = parse(from_base32(genuine["token"])).claims.issued_at
    forged = forge(tmp_path / "keys", kid, genuine["token"], issued_at)
    keyed("keys", "compromise", "--as-of", (issued_at + timedelta(hours=1)).isoformat(), "--", kid)
    keyed("keys", "rotate")
    keyed("issue")
    keyed("keys", "jwks", "-o", str(out / "jwks.json"))
    keyed("status", "export", "-o", str(out / "status.json"))
    # the attacker's snapshot: the genuine one, his token entered as A's current version, dated
    # before the compromise, signed with the leaked key
    import hashlib

    doc = json.loads((out / "status.json").read_text("utf-8"))
    first = doc["snapshot"]["certificates"][A][0]  # his token says version 1: that entry, current, his digest
    first[0], first[1], first[3] = "current", None, hashlib.sha256(from_base32(forged)).hexdigest()
    doc["snapshot"]["certificates"][A] = [first]
    doc["snapshot"]["generated_at"] = issued_at.isoformat()
    cose, kid_bytes = leaked_key(tmp_path / "keys", kid)
    (out / "evil.json").write_text(json.dumps(_resigned(doc, cose, kid_bytes)), "utf-8")
    result = keyed(
        "verify",
        forged,
        "--offline",
        "--jwks",
        str(out / "jwks.json"),
        "--status",
        str(out / "evil.json"),
        check=False,
    )
    assert result.returncode == 1 and "marked compromised" in result.stderr.replace("\n", " "), result.stderr


def test_a_snapshot_answers_for_its_own_bureau_and_says_how_old_it_is(keyed, bureau, tmp_path):
    keyed("issue")
    keyed("keys", "jwks", "-o", str(tmp_path / "jwks.json"))
    keyed("status", "export", "-o", str(tmp_path / "status.json"))
    offline = ("--offline", "--jwks", str(tmp_path / "jwks.json"), "--status", str(tmp_path / "status.json"))
    said = keyed("verify", show(keyed, A)["token"], *offline).stdout
    assert re.search(r"离线查验：登记状态依据 \d{4}-\d\d-\d\d \d\d:\d\d 的状态快照", said), said
    # the snapshot claims another bureau: its key is 654004's, so it is refused by name
    doc = json.loads((tmp_path / "status.json").read_text("utf-8"))
    doc["snapshot"]["issuer"] = "654000"
    (tmp_path / "other.json").write_text(json.dumps(doc), "utf-8")
    other = keyed(
        "verify",
        show(keyed, A)["token"],
        "--offline",
        "--jwks",
        str(tmp_path / "jwks.json"),
        "--status",
        str(tmp_path / "other.json"),
        check=False,
    )
    assert other.returncode == 1


def test_offline_and_online_read_a_late_joiners_credits_alike(keyed, bureau, tmp_path, files):
    from tests.builders import ROSTER_HEADER, id_number, teacher_row

    late = id_number(seq=777)
    keyed(
        "roster",
        "import",
        str(files.csv("late.csv", ROSTER_HEADER, [teacher_row("新来的", late, hired="2025-03-01")])),
    )
    keyed("issue")
    number = json.loads(keyed("credits", late, "--json").stdout)["certificate_number"]
    keyed("keys", "jwks", "-o", str(tmp_path / "jwks.json"))
    keyed("status", "export", "-o", str(tmp_path / "status.json"))
    token = show(keyed, number)["token"]
    online = verify(keyed, token)["reading"]
    offline = verify(
        keyed,
        token,
        "--offline",
        "--jwks",
        str(tmp_path / "jwks.json"),
        "--status",
        str(tmp_path / "status.json"),
    )["reading"]
    assert online["prorated"] and offline["prorated"]  # 3/5 of the cycle's minimums
    for key in ("requirements", "short", "buckets", "years", "prorated", "others"):
        assert offline[key] == online[key], key
    assert {b["name"]: b["minimum"] for b in online["buckets"]}["total"] == "54.00"


@pytest.mark.parametrize("fmt", ["teacher-ecert-status/1"])
def test_an_old_snapshot_without_digests_is_refused_by_name(keyed, bureau, tmp_path, fmt):
    keyed("issue")
    keyed("keys", "jwks", "-o", str(tmp_path / "jwks.json"))
    keyed("status", "export", "-o", str(tmp_path / "status.json"))
    doc = json.loads((tmp_path / "status.json").read_text("utf-8"))
    doc["format"] = fmt
    (tmp_path / "old.json").write_text(json.dumps(doc), "utf-8")
    result = keyed(
        "verify",
        show(keyed, A)["token"],
        "--offline",
        "--jwks",
        str(tmp_path / "jwks.json"),
        "--status",
        str(tmp_path / "old.json"),
        check=False,
    )
    assert result.returncode == 1 and "without the tokens' digests" in result.stderr.replace("\n", " ")
