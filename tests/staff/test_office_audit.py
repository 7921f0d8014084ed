"""The audit log page (审计日志) read as sentences with names, filtered by
actor, action, certificate number and Beijing dates, paginated, and
exported as CSV and XLSX; on both databases."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event, select, update

from issuer.certificates import audit
from issuer.certificates import versions as register
from issuer.db import read_session, write_session
from issuer.ledger.importing.records import import_records
from issuer.models import AuditEntry, SigningKey, StaffAccount, TrainingRecord
from issuer.office import audit_log, review
from issuer.office.staff import Scope
from tests.builders import record_row
from tests.helpers import SCHOOL_A, csrf, scope_of, signed_in
from verifier.clock import today_in_china
from verifier.numbers import CertificateNumber


def fetch(client, path):
    """GET, read, close: a file response holds its file open until closed."""
    r = client.get(path)
    r.get_data()
    r.close()
    return r


def _text(html: str) -> str:
    """The page's words, tags taken out, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _printed(number: str) -> str:
    return CertificateNumber.parse(number).printed


def _name(region, username: str, display: str) -> None:
    with write_session(region.engine) as s:
        s.execute(update(StaffAccount).where(StaffAccount.username == username).values(display_name=display))


def _every_kind(region, numbers, app) -> None:
    """One entry of each kind the service writes, besides the issuance and
    key the `issued` fixture made: a revocation, a reissue, review
    decisions, a key rotated and marked compromised, account events."""
    auditor = scope_of(region.engine, "auditor")
    with write_session(region.engine) as s:
        register.revoke(s, numbers[region.a[0]], "重复登记", auditor.actor)
    with write_session(region.engine) as s:
        import_records(
            s,
            region.records_file(
                "d.csv", [record_row(region.a[0], "X-PRO"), record_row(region.a[1], "X-ELE")]
            ),
            school=SCHOOL_A[0],
        )
    with write_session(region.engine) as s:
        first, second = s.scalars(select(TrainingRecord.id).order_by(TrainingRecord.id)).all()
        review.recognise(s, auditor, [first])
        review.reject(s, auditor, [second], "证明材料不全")
    region.run("issue", "--teacher", numbers[region.a[0]])  # the revoked one, signed again
    region.run("keys", "rotate")
    with read_session(region.engine) as s:
        old = s.scalar(select(SigningKey.kid).where(SigningKey.not_after.is_not(None)))
    region.run("keys", "compromise", "--as-of", "2026-03-01T09:00+08:00", "--note", "备份外泄", "--", old)
    admin = signed_in(app, region, "admin")
    token = csrf(admin, "/office/accounts")
    admin.post(
        "/office/accounts",
        data={"csrf_token": token, "username": "aud-2", "display_name": "第二审核员", "role": "auditor"},
    )
    admin.post(
        "/office/accounts",
        data={
            "csrf_token": token,
            "username": "reg-c",
            "display_name": "一小专管员",
            "role": "registrar",
            "school": SCHOOL_A[0],
        },
    )
    for action in ("revoke-tokens", "disable", "enable"):
        admin.post(f"/office/accounts/aud-2/{action}", data={"csrf_token": token})


def test_every_kind_of_entry_reads_as_a_sentence_with_names(issued_app, region, numbers):
    _name(region, "auditor", "演示审核员")
    _every_kind(region, numbers, issued_app)
    aud = signed_in(issued_app, region, "auditor")
    html = aud.get("/office/audit").get_data(as_text=True)
    text = _text(html)
    a0 = _printed(numbers[region.a[0]])
    today = today_in_china().isoformat()
    assert re.search(rf"{today} \d\d:\d\d 演示审核员 撤销了 王芳 的证书 {a0} 第 1 版（原因：重复登记）", text)
    assert re.search(
        rf"签发了 李娜 的证书 {_printed(numbers[region.a[1]])} 第 1 版（结论：\w+，有效期至 \d{{4}}", text
    )
    assert f"重新签发了 王芳 的证书 {a0} 第 2 版" in text
    assert "演示审核员 认定了 霍尔果斯市第一小学 申报的 1 条培训记录：王芳 X-PRO" in text
    assert (
        "演示审核员 退回了 霍尔果斯市第一小学 申报的 1 条培训记录：李娜 X-ELE（原因：证明材料不全）" in text
    )
    assert re.search(r"（命令行） 生成了签名密钥 \S+", text)
    assert re.search(r"（命令行） 停用了签名密钥 \S+", text)
    assert re.search(r"标记为泄露：2026-03-01 09:00 起由它签名的令牌一律无效（说明：备份外泄）", text)
    assert "admin 新建了账号 第二审核员（aud-2），角色 审核员" in text
    assert "admin 新建了账号 一小专管员（reg-c），角色 学校专管员，学校 霍尔果斯市第一小学" in text
    assert "admin 作废了 第二审核员（aud-2）的接口令牌 0 个" in text
    assert "admin 停用了账号 第二审核员（aud-2）" in text
    assert "admin 重新启用了账号 第二审核员（aud-2）" in text
    # the sentences name people and certificates, not the stored ids
    sentences = re.findall(r'<span class="sentence">(.*?)</span>\s*<details', html, re.S)
    assert sentences and not any("staff:" in s or numbers[region.a[0]] in s for s in sentences)
    with read_session(region.engine) as s:
        kinds = set(s.scalars(select(AuditEntry.action)))
    assert kinds >= set(audit_log.ACTIONS) - {"key-certificate"}, kinds


def test_the_kinds_no_page_flow_makes_still_read_as_sentences(region):
    """The PDF-signing certificate an outside CA issued (`ecert keys
    import-cert`) and a kind this page does not know, told from entries as
    stored."""
    at = datetime(2026, 12, 2, 2, 31, tzinfo=UTC)
    entries = [
        AuditEntry(
            seq=1,
            at=at,
            actor="张三",
            action="key-certificate",
            subject="k1",
            detail='{"subject":"CN=教育局"}',
        ),
        AuditEntry(seq=2, at=at, actor="staff:nobody", action="future-kind", subject="x", detail="{}"),
        AuditEntry(
            seq=3, at=at, actor="staff:auditor", action="revoke", subject="6540040710000997", detail="oops"
        ),
    ]
    with read_session(region.engine) as s:
        lines = audit_log.describe(s, entries)
    assert (
        lines[0].sentence == "2026-12-02 10:31 张三（命令行） 为签名密钥 k1 导入了 PDF 签章证书（CN=教育局）"
    )
    assert lines[1].sentence == "2026-12-02 10:31 nobody 执行了 future-kind（对象 x）"
    assert lines[2].text == "撤销了证书 654004-07-1-000099-7" and lines[2].number == "654004-07-1-000099-7"


def _revocations(region, moments: list[datetime], number: str, actor: str = "staff:auditor") -> None:
    """Entries written at the given moments (the chain is appended as it is
    in use; only the clock is chosen)."""
    import verifier.clock as clock

    real = clock._now
    try:
        for m in moments:
            clock._now = lambda m=m: m
            with write_session(region.engine) as s:
                audit.append(s, actor, [audit.Event("revoke", number, {"version": 1, "reason": "测试"})])
    finally:
        clock._now = real


def test_filters_by_actor_action_number_and_beijing_dates(app, region, numbers):
    number = numbers[region.a[0]]
    # 07:30 on 2 January in Beijing is still 1 January in UTC
    early = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
    _revocations(region, [early, early + timedelta(days=3)], number)
    _revocations(region, [early], numbers[region.b[0]], actor="测试员")
    aud = signed_in(app, region, "auditor")

    def seqs(query: str) -> list[int]:
        r = aud.get("/office/audit?" + query)
        assert r.status_code == 200, (query, r.status_code)
        return [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', r.get_data(as_text=True))]

    assert len(seqs("")) == 3 == len(seqs("action=revoke"))  # the region's log holds only these
    assert seqs("action=issue") == []
    assert len(seqs("action=revoke&actor=staff:auditor")) == 2
    assert len(seqs("action=revoke&actor=cli")) == 1
    assert len(seqs("actor=staff:reg-a")) == 0
    assert len(seqs(f"number={number}")) == 2
    assert len(seqs(f"number={_printed(number)}")) == 2  # the printed form too
    assert len(seqs("since=2026-01-02&until=2026-01-02")) == 2  # Beijing's 2 January
    assert len(seqs("until=2026-01-01")) == 0
    assert len(seqs("since=2026-01-03&action=revoke")) == 1
    assert len(seqs("since=2026-01-02&until=2026-01-05&actor=staff:auditor&action=revoke")) == 2

    bad = aud.get("/office/audit?number=6540040710000023")  # a wrong check character
    assert bad.status_code == 400 and "格式不正确" in bad.get_data(as_text=True)
    backwards = aud.get("/office/audit?since=2026-02-01&until=2026-01-01")
    assert backwards.status_code == 400 and "晚于截止日期" in backwards.get_data(as_text=True)
    assert aud.get("/office/audit?action=no-such-kind").status_code == 400
    # the form keeps what was asked
    page = aud.get("/office/audit?actor=cli&action=revoke").get_data(as_text=True)
    assert '<option value="cli" selected>' in page and '<option value="revoke" selected>' in page


def test_a_day_begins_at_midnight_in_beijing():
    assert audit_log.day_start(date(2026, 1, 2)) == datetime(2026, 1, 1, 16, 0, tzinfo=UTC)


def test_pages_are_bounded_and_keep_the_filter(app, region, numbers):
    number = numbers[region.a[0]]
    start = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    _revocations(region, [start + timedelta(minutes=i) for i in range(230)], number)
    aud = signed_in(app, region, "auditor")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    engine = app.extensions["ecert_engine"]
    event.listen(engine, "before_cursor_execute", seen)
    try:
        html = aud.get("/office/audit?action=revoke").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    shown = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', html)]
    assert len(shown) == 100 and shown == sorted(shown, reverse=True)
    assert "共 230 条" in html and "共 3 页" in html
    # one page: the account, the accounts for the filter, two counts, one page of entries and
    # one query per kind of name, whatever the log's length
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) <= 10, reads
    assert any("LIMIT" in s.upper() and "audit_log" in s for s in reads)
    later = re.search(r'href="([^"]*page=1[^"]*)">较早', html).group(1).replace("&amp;", "&")
    assert "action=revoke" in later
    second = aud.get(later).get_data(as_text=True)
    assert [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', second)] == [s - 100 for s in shown]


def test_csv_and_xlsx_exports_follow_the_filter_and_are_formula_safe(app, region, numbers):
    from openpyxl import load_workbook

    _name(region, "auditor", "=1+2")  # a display name Excel would run as a formula
    number = numbers[region.a[0]]
    _revocations(region, [datetime(2026, 6, 1, 1, 0, tzinfo=UTC)], number)
    with write_session(region.engine) as s:
        audit.append(s, "staff:auditor", [audit.Event("revoke", number, {"version": 1, "reason": "@SUM(1)"})])
    aud = signed_in(app, region, "auditor")
    with read_session(region.engine) as s:
        n_revokes = len(s.scalars(select(AuditEntry.seq).where(AuditEntry.action == "revoke")).all())
    assert n_revokes == 2

    r = fetch(aud, "/office/audit.csv?action=revoke&actor=staff:auditor")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Cache-Control"] == "no-store" and "attachment" in r.headers["Content-Disposition"]
    body = r.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == list(audit_log.EXPORT_HEADER)
    assert len(rows) - 1 == n_revokes
    assert [int(r[0]) for r in rows[1:]] == sorted(int(r[0]) for r in rows[1:])  # oldest first
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["时间（北京时间）"] == "2026-06-01 09:00:00"
    assert first["操作人"] == "'=1+2" and first["操作人账号"] == "staff:auditor"
    assert first["操作"] == "撤销" and first["教师"] == "王芳" and first["证书编号"] == _printed(number)
    assert (
        first["记录"] == f"2026-06-01 09:00 =1+2 撤销了 王芳 的证书 {_printed(number)} 第 1 版（原因：测试）"
    )
    assert first["对象"] == number and first["详情（原始 JSON）"].startswith("{")
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    r = fetch(aud, "/office/audit.xlsx?action=revoke&actor=staff:auditor")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    wb = load_workbook(io.BytesIO(r.get_data()))
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert header == list(audit_log.EXPORT_HEADER)
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:K{n_revokes + 1}"
    assert all(c.font.bold for c in ws[1])
    assert ws.max_row == n_revokes + 1
    cells = {h: c for h, c in zip(header, ws[2], strict=True)}
    assert cells["时间（北京时间）"].value == datetime(2026, 6, 1, 9, 0)
    assert cells["操作人"].value == "=1+2" and cells["操作人"].data_type == "s"  # text, not a formula
    assert cells["教师"].value == "王芳"

    # a filter with a problem sends the person back to the page, which says what it is
    back = aud.get("/office/audit.csv?since=2026-13-01")
    assert back.status_code == 302 and "/office/audit?" in back.headers["Location"]


def test_only_those_who_may_audit_see_the_log_and_its_exports(app, region):
    for user in ("reg-a", "reg-b"):
        c = signed_in(app, region, user)
        for path in ("/office/audit", "/office/audit.csv", "/office/audit.xlsx"):
            assert c.get(path).status_code == 404, (user, path)
        assert "审计日志" not in c.get("/office/").get_data(as_text=True)
    for user in ("admin", "auditor"):
        c = signed_in(app, region, user)
        for path in ("/office/audit", "/office/audit.csv", "/office/audit.xlsx"):
            assert fetch(c, path).status_code == 200, (user, path)


def test_the_actor_filter_offers_every_account_and_the_command_line(region):
    with read_session(region.engine) as s:
        options = dict(audit_log.actor_options(s))
    assert set(options) == {"staff:admin", "staff:auditor", "staff:reg-a", "staff:reg-b", audit_log.CLI}
    assert "学校专管员" in options["staff:reg-a"]


def test_the_log_names_staff_as_a_scope_acts():
    assert Scope(1, "auditor", "auditor", None).actor == audit_log.STAFF + "auditor"


def test_a_whole_schools_decision_fits_the_xlsx_and_stays_whole_in_the_csv(app, region):
    """A school recognised at once lists every record id in its entry, more
    than an Excel cell holds: the XLSX cuts that cell, the CSV keeps it."""
    ids = list(range(1, 7001))
    with write_session(region.engine) as s:
        audit.append(
            s,
            "staff:auditor",
            [audit.Event("records-recognise", SCHOOL_A[0], {"records": ids, "count": len(ids)})],
        )
    from openpyxl import load_workbook

    aud = signed_in(app, region, "auditor")
    html = aud.get("/office/audit").get_data(as_text=True)
    assert "auditor 认定了 霍尔果斯市第一小学 申报的 7000 条培训记录" in _text(html)
    ws = load_workbook(io.BytesIO(fetch(aud, "/office/audit.xlsx").get_data())).active
    detail = ws.cell(row=2, column=audit_log.EXPORT_HEADER.index("详情（原始 JSON）") + 1).value
    assert len(detail) == 32_767 and detail.endswith("…")
    rows = list(csv.reader(io.StringIO(fetch(aud, "/office/audit.csv").get_data().decode("utf-8-sig"))))
    assert rows[1][audit_log.EXPORT_HEADER.index("详情（原始 JSON）")].endswith("6999,7000]}")


def test_an_export_reads_chunk_by_chunk_up_to_where_it_started(region, numbers, monkeypatch):
    number = numbers[region.a[0]]
    _revocations(region, [datetime(2026, 7, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(23)], number)
    monkeypatch.setattr(audit_log, "CHUNK", 5)
    opened: list[int] = []

    def session():
        opened.append(1)
        return read_session(region.engine)

    with read_session(region.engine) as s:
        upto = audit_log.last_seq(s)
    _revocations(region, [datetime(2026, 7, 2, tzinfo=UTC)], number)  # appended while it runs
    got = [line.seq for line in audit_log.lines(session, audit_log.AuditFilter(action="revoke"), upto)]
    assert got == list(range(1, 24)) and len(opened) == 5  # 5 + 5 + 5 + 5 + 3
