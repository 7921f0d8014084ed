"""How the CLI shows things to a clerk: tables in Chinese, aligned by
display width (rich measures CJK characters as two columns)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from issuer.certificates.issuance import ACTIONS, Preview
from issuer.ledger.credits.ledger import Holder
from issuer.ledger.credits.sheet import CreditSheet, amount
from issuer.ledger.importing.report import ImportRefused, ImportResult
from verifier.numbers import CertificateNumber, mask_id_number
from verifier.profiles import RulesProfile
from verifier.verdict import banner
from verifier.vocab import BUCKETS, state_label

MAX_SHOWN = 100
YEAR_STATUS = {
    "met": "[green]达标[/]",
    "short": "[yellow]未达 18/12/2/4[/]",
    "not-required": "[dim]不作要求[/]",
    "not-yet": "[dim]进行中[/]",
}


def print_refusal(out: Console, e: ImportRefused) -> None:
    # What the file holds is printed as text: a cell "[/x]" is not rich's markup
    table = Table("行", "列", "值", "问题 / problem", show_lines=False)
    for err in e.errors[:MAX_SHOWN]:
        table.add_row(
            str(err.row or "-"),
            escape(err.column),
            escape(err.value),
            f"{escape(err.message)}\n[dim]{escape(err.detail)}[/]",
        )
    out.print(table)
    if len(e.errors) > MAX_SHOWN:
        out.print(
            f"……另有 {len(e.errors) - MAX_SHOWN} 处错误未显示；用 --report FILE 导出这 {len(e.errors)} 处"
        )
    if e.omitted:
        zh, en = e.omitted_line()
        out.print(f"{zh} [dim]({en})[/]")


def print_import_result(out: Console, r: ImportResult) -> None:
    out.print(f"[green]已导入[/] {escape(r.summary())}")
    for note in r.notes:
        out.print(f"  {escape(note)}")
    for line in r.changes[:MAX_SHOWN]:
        out.print(f"  更新 {escape(line)}")
    if len(r.changes) > MAX_SHOWN:
        out.print(f"  ……另有 {len(r.changes) - MAX_SHOWN} 行更新")


def print_sheet(out: Console, h: Holder, s: CreditSheet, p: RulesProfile) -> None:
    out.print(
        f"[bold]{h.name}[/]  证书编号 {CertificateNumber.parse(h.number).printed}  "
        f"身份证号 {mask_id_number(h.id_number)}"
    )
    out.print(
        f"{h.school_name}（{h.school_code}）  第 {p.cycle} 周期 {p.first_year}—{p.last_year}  规则 {p.id}"
    )
    rec = Table("完成日期", "项目编号", "基础", "奖励", "学分", "说明", title="培训记录")
    for r in s.records:
        style = None if r.counts else "dim"
        rec.add_row(
            str(r.completed_on),
            r.project_code,
            amount(r.basic),
            amount(r.reward),
            amount(r.credits),
            r.why,
            style=style,
        )
    out.print(rec)
    buckets = Table("类别", "学分", "最低要求", "状态", title="分类学分")
    for b in BUCKETS:
        minimum = s.minimums.get(b)
        state = (
            ""
            if minimum is None
            else (
                "[red]未达[/]"
                if b in s.unmet
                else "[green]达标[/]"
                if s.buckets[b] >= minimum
                else "[green]折抵后达标[/]"
            )
        )
        buckets.add_row(
            p.bucket_label(b), amount(s.buckets[b]), "" if minimum is None else amount(minimum), state
        )
    out.print(buckets)
    if s.offset_used:
        out.print(f"必修超出部分折抵选修、校本：{amount(s.offset_used)} 学分")
    years = Table("年度", "合计", "必修", "选修", "校本", "年度要求", title="年度学分")
    for y in s.years:
        years.add_row(
            str(y.year),
            *(amount(y.amounts[k]) for k in ("total", "required", "elective", "school_based")),
            YEAR_STATUS[y.status],
        )
    out.print(years)
    for note in s.notes:
        out.print(f"注：{note}")
    if s.qualified:
        out.print("[bold green]结论：达到本周期学分要求（合格）[/]")
    else:
        unmet = "、".join(p.bucket_label(u) for u in s.unmet)
        out.print(f"[bold red]结论：尚未达到本周期要求[/]  未达：{unmet}")


def summarise(sheets: Iterable[tuple[Holder, CreditSheet]]) -> dict:
    schools: dict[str, dict] = {}
    unmet: Counter[str] = Counter()
    for holder, sheet in sheets:
        row = schools.setdefault(
            holder.school_code,
            {"code": holder.school_code, "name": holder.school_name, "teachers": 0, "qualified": 0},
        )
        row["teachers"] += 1
        row["qualified"] += sheet.qualified
        unmet.update(sheet.unmet)
    teachers = sum(r["teachers"] for r in schools.values())
    qualified = sum(r["qualified"] for r in schools.values())
    return {
        "teachers": teachers,
        "qualified": qualified,
        "schools": [schools[k] for k in sorted(schools)],
        "unmet": dict(unmet.most_common()),
    }


def print_summary(out: Console, result: dict, p: RulesProfile) -> None:
    table = Table(
        "学校代码", "学校名称", "教师", "合格", "合格率", title=f"第 {p.cycle} 周期学分汇总（{p.id}）"
    )
    for r in result["schools"]:
        table.add_row(r["code"], r["name"], str(r["teachers"]), str(r["qualified"]), _pct(r))
    table.add_section()
    table.add_row("", "合计", str(result["teachers"]), str(result["qualified"]), _pct(result))
    out.print(table)
    if result["unmet"]:
        out.print(
            "未达要求的类别（人数）："
            + "，".join(f"{p.bucket_label(k)} {v}" for k, v in result["unmet"].items())
        )


def _pct(r: dict) -> str:
    return f"{100 * r['qualified'] / r['teachers']:.1f}%" if r["teachers"] else "-"


# -- certificates ----------------------------------------------------------

KEY_STATUS = {"active": "[green]使用中[/]", "retired": "停用（仍可查验）", "compromised": "[red]已泄露[/]"}


def print_issue_summary(out: Console, s) -> None:
    out.print(
        f"签发 {s.issued}，重新签发 {s.reissued}，未变化 {s.unchanged}，拒绝 {len(s.refused)}"
        f"  [dim](issued {s.issued}, reissued {s.reissued}, unchanged {s.unchanged}, "
        f"refused {len(s.refused)})[/]"
    )
    for reason, n in Counter(r for _, r in s.refused).most_common():
        examples = [num for num, r in s.refused if r == reason][:5]
        out.print(f"  拒绝 {n}：{reason}（如 {'、'.join(examples)}）")


PREVIEW_SHOWN = 10  # teachers listed for each action; --json lists them all
ACTION_LABELS = {
    "issued": "签发 issue",
    "reissued": "重新签发 reissue",
    "unchanged": "未变化 unchanged",
    "refused": "拒绝 refuse",
}


def print_preview(out: Console, p: Preview) -> None:
    """`ecert issue --dry-run`: how many of each, then the first few of each, with why."""
    counts = p.counts
    out.print(
        f"预览（未签名，未写入）：将签发 {counts['issued']}，重新签发 {counts['reissued']}，"
        f"未变化 {counts['unchanged']}，拒绝 {counts['refused']}"
        f"  [dim](dry run, nothing signed or stored: would issue {counts['issued']}, reissue "
        f"{counts['reissued']}, leave {counts['unchanged']} unchanged, refuse {counts['refused']})[/]"
    )
    table = Table("类别 action", "人数 teachers")
    for action in ACTIONS:
        table.add_row(ACTION_LABELS[action], str(counts[action]))
    table.add_section()
    table.add_row("合计 total", str(len(p.teachers)))
    out.print(table)
    for action in ACTIONS:
        who = p.of(action)
        if not who:
            continue
        listed = Table(
            "证书编号",
            "姓名",
            "学校",
            "原因 reason",
            title=f"{ACTION_LABELS[action]}：{len(who)} 人"
            + (f"（列出前 {PREVIEW_SHOWN} 人）" if len(who) > PREVIEW_SHOWN else ""),
        )
        for t in who[:PREVIEW_SHOWN]:
            listed.add_row(t.number, escape(t.name), escape(t.school_name), f"{t.reason}\n[dim]{t.detail}[/]")
        out.print(listed)
        if len(who) > PREVIEW_SHOWN:
            more = len(who) - PREVIEW_SHOWN
            out.print(
                f"  ……另有 {more} 人未列出；--json 列出全部  [dim](and {more} more; --json lists all)[/]"
            )


def print_keys(out: Console, keys) -> None:
    table = Table("kid", "机关", "状态", "启用", "停用", "泄露自")
    for k in sorted(keys, key=lambda k: k.not_before):
        table.add_row(
            k.kid, k.issuer, KEY_STATUS[k.status], _t(k.not_before), _t(k.not_after), _t(k.compromised_at)
        )
    out.print(table)


def _t(t) -> str:
    from verifier.clock import CHINA

    return "" if t is None else t.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def print_history(out: Console, versions) -> None:
    table = Table("版本", "状态", "签发时间", "变更时间", "原因")
    for v in versions:
        table.add_row(
            str(v.version),
            state_label(v.state),
            _t(v.issued_at),
            _t(v.changed_at),
            v.revoke_reason or "",
        )
    out.print(table)


BANNER_STYLES = {"ok": "bold green", "updated": "bold yellow", "expired": "bold yellow", "no": "bold red"}


def print_verification(out: Console, result, at) -> None:
    """The verifier page's banner, what the certificate says and the
    checks, as text."""
    b = banner(result, at)
    out.print(f"[{BANNER_STYLES[b.tone]}]{b.title}[/] [dim]({b.outcome}: {b.english})[/]")
    for line in b.lines:
        out.print(f"  {line}", soft_wrap=True)
    c, reading = result.certificate, result.reading
    if c and reading:
        out.print(f"持证人 {c['holder']}  身份证 {c['id_masked']}  学校 {c['school']}")
        out.print(
            f"证书编号 {c['printed_number']}  第 {c['version']} 版  第 {c['cycle']} 周期  "
            f"有效期至 {c['valid_until']}  签发 {c['issuer']['name'] or c['issuer']['code']}"
        )
        out.print(
            "学分 "
            + "  ".join(
                f"{r.label} {r.credits:.2f}"
                + (f"/{r.minimum:.2f} {r.status_label}" if r.minimum is not None else "")
                for r in reading.buckets
            ),
            soft_wrap=True,
        )
        out.print(
            "年度 " + "  ".join(f"{y.year} {y.credits:.2f} {y.detail}".rstrip() for y in reading.years),
            soft_wrap=True,
        )
    table = Table("检查", "结果", "说明", "detail")
    for ch in result.checks:
        mark = (
            "[green]通过[/]"
            if ch.ok
            else (
                "[dim]未检查[/]"
                if not ch.ran
                else "[yellow]已更新[/]"
                if ch.name == "status" and b.tone == "updated"
                else "[red]未通过[/]"
            )
        )
        table.add_row(ch.name, mark, ch.message, f"[dim]{ch.detail}[/]")
    out.print(table)
