"""The 查询 page's search box: a teacher by part of her name, her whole ID
number or her certificate number (printed, compact, full-width, with
spaces), region-wide for the bureau's staff and in her own school for a
registrar, to whom another school's teacher is exactly as absent as one
who does not exist."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from issuer.db import read_session
from issuer.models import Registration, Teacher
from issuer.office import queries
from tests.builders import ROSTER_HEADER, id_number, teacher_row
from tests.helpers import SCHOOL_A, SCHOOL_B, csrf, scope_of, signed_in
from verifier.numbers import CertificateNumber
from verifier.profiles import load_profile

PROFILE = load_profile("horgos-7")
UYGHUR = "热依拉·阿不都热合曼"
X_ID = id_number(seq=28)  # its check character is X


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c in "X-" else c for c in text)


@pytest.fixture
def more(region):
    """Two more teachers of school A: a Uyghur name, and 王芳芳 (whose name
    holds 王芳's); returns every ID number's certificate number."""
    region.run(
        "roster",
        "import",
        str(
            region.files.csv(
                "more.csv",
                ROSTER_HEADER,
                [teacher_row(UYGHUR, X_ID), teacher_row("王芳芳", id_number(seq=303))],
            )
        ),
    )
    with read_session(region.engine) as s:
        return dict(
            s.execute(
                select(Teacher.id_number, Registration.number).join(
                    Registration, Registration.teacher_id == Teacher.id
                )
            ).all()
        )


def search(client, text: str, **query):
    path = "/office/search" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return client.post(path, data={"q": text, "csrf_token": csrf(client, "/office/teachers")})


def numbers_on(html: str) -> list[str]:
    return re.findall(r'<tr><td[^>]*><a href="/office/teachers/([0-9X]{16})"', html)


def lands_on(r, number: str) -> bool:
    return r.status_code == 303 and r.headers["Location"].endswith(f"/office/teachers/{number}")


def test_a_whole_number_opens_the_teachers_page(app, region, more):
    admin = signed_in(app, region, "admin")
    number = more[region.b[0]]
    printed = CertificateNumber.parse(number).printed
    for typed in (
        printed,
        number,
        full_width(printed),
        " ".join([printed[:6], printed[7:9], printed[10], printed[12:18], printed[19]]),  # spaces for dashes
        f"  {printed.replace('-', '—')}\u3000",  # em dashes, a full-width space
        region.b[0],  # the ID number
        full_width(region.b[0]),
    ):
        assert lands_on(search(admin, typed), number), typed
    assert lands_on(search(admin, X_ID.lower()), more[X_ID])  # a lower-case x
    assert lands_on(search(admin, full_width(X_ID)), more[X_ID])
    page = admin.get(f"/office/teachers/{number}").get_data(as_text=True)
    assert "张伟" in page


def test_part_of_a_name_lists_the_teachers_as_the_table_does(app, region, more):
    admin = signed_in(app, region, "admin")
    r = search(admin, "王芳")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "（姓名）" in html and "找到 2 名教师" in html
    # the whole name first, then the longer one; the table's columns, the school among them
    assert numbers_on(html) == [more[region.a[0]], more[id_number(seq=303)]]
    assert "霍尔果斯市第一小学" in html and "未签发" in html and "未达要求" in html
    assert region.a[0] not in html and region.a[0][-4:] in html  # ID numbers masked
    assert numbers_on(search(admin, "芳").get_data(as_text=True)) == numbers_on(html)
    for typed in (
        "阿不都",
        UYGHUR,
        "热依拉•阿不都",
        "热依拉・阿不都热合曼",
        "热依拉 · 阿不都",
        "热依拉阿不都",
    ):
        assert numbers_on(search(admin, typed).get_data(as_text=True)) == [more[X_ID]], typed
    assert numbers_on(search(admin, "张伟").get_data(as_text=True)) == [more[region.b[0]]]  # region-wide
    # nothing typed, or wildcards, find nobody, not everybody
    for typed in ("", "  ", "%", "_", "·"):
        html = search(admin, typed).get_data(as_text=True)
        assert numbers_on(html) == [], typed


def test_a_wrong_number_says_why_and_finds_nobody(app, region, more):
    admin = signed_in(app, region, "admin")
    number = more[region.a[0]]
    wrong_check = number[:15] + ("0" if number[15] != "0" else "1")
    for typed, says in (
        (wrong_check, "校验位"),
        (region.a[0][:17] + ("0" if region.a[0][17] != "0" else "1"), "校验位"),
        (region.a[0][-4:], "16 位证书编号或 18 位身份证号"),  # no search by the last four digits
        (number[:12], "16 位证书编号或 18 位身份证号"),
    ):
        r = search(admin, typed)
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and says in html and numbers_on(html) == [], typed
    for typed in (region.a[0][:17] + "0", region.a[0][:17], region.a[0][:12]):
        html = search(admin, typed).get_data(as_text=True)
        assert region.a[0][:8] not in html, typed  # shown back by its last four digits, never whole
        assert f'value="{typed}"' not in html and typed[-4:] in html


def test_more_than_the_limit_is_cut_and_said(app, region, more, monkeypatch):
    monkeypatch.setattr(queries, "MAX_FOUND", 1)
    admin = signed_in(app, region, "admin")
    html = search(admin, "王芳").get_data(as_text=True)
    assert numbers_on(html) == [more[region.a[0]]] and "结果超过" in html


def test_a_registrar_finds_only_her_schools_teachers(app, region, more):
    reg = signed_in(app, region, "reg-a")
    b_number = more[region.b[0]]
    assert lands_on(search(reg, CertificateNumber.parse(more[region.a[1]]).printed), more[region.a[1]])
    assert numbers_on(search(reg, "芳").get_data(as_text=True)) == [
        more[region.a[0]],
        more[id_number(seq=303)],
    ]

    # School B's teacher by each key reads exactly as a number nobody holds.
    nobody = CertificateNumber.parse("6540040710009991")  # well formed, held by nobody
    unknown_id = id_number(seq=777)

    def page(typed: str) -> str:
        r = search(reg, typed)
        assert r.status_code == 200, typed
        html = r.get_data(as_text=True).replace(typed, "TYPED")
        return re.sub(r'name="csrf_token" value="[^"]+"', "", html)

    for theirs, none in (
        (CertificateNumber.parse(b_number).printed, nobody.printed),
        (b_number, nobody.compact),
        (region.b[0], unknown_id),
    ):
        got = page(theirs)
        assert "没有找到符合条件的教师" in got and "张伟" not in got
        assert got.replace(region.b[0][-4:], "LAST") == page(none).replace(unknown_id[-4:], "LAST")
    assert "没有找到" in page("张伟")
    # naming school B in the request is the 404 of every office route
    assert search(reg, "张伟", school=SCHOOL_B[0]).status_code == 404
    assert search(reg, "王芳", school=SCHOOL_A[0]).status_code == 200
    admin = signed_in(app, region, "admin")
    assert numbers_on(search(admin, "王芳", school=SCHOOL_B[0]).get_data(as_text=True)) == []
    assert lands_on(search(admin, b_number, school="all"), b_number)


def test_the_domain_search_keeps_to_the_scope(region, more):
    reg_a, admin = scope_of(region.engine, "reg-a"), scope_of(region.engine, "admin")
    with read_session(region.engine) as s:
        found = queries.search(s, PROFILE, admin, region.b[0])
        assert found.kind == "id_number" and found.exact is not None and found.exact.name == "张伟"
        assert found.echo == "*" * 14 + region.b[0][-4:]
        assert queries.search(s, PROFILE, reg_a, region.b[0]).rows == []
        assert queries.search(s, PROFILE, reg_a, "张").rows == []
        name = queries.search(s, PROFILE, reg_a, "王芳")
        assert (
            name.kind == "name" and name.exact is None and [r.name for r in name.rows] == ["王芳", "王芳芳"]
        )
        assert {r.school_code for r in queries.search(s, PROFILE, admin, "王").rows} == {SCHOOL_A[0]}
