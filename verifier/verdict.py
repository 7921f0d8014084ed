"""What a verification says to a person, in one place: the banner's tone,
title and lines for each outcome, the labels of a certificate's state, and
the line a number-only lookup shows. The verifier's pages and the `ecert
verify` CLI print these; the JSON carries the outcome and the reading they
are made from.

A genuine certificate since updated is amber ("updated"), never the red a
forgery gets; a revoked one says when and why; an expired one says it is
genuine and past its validity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from verifier.token import Claims
from verifier.verify import Result
from verifier.vocab import Outcome, Verdict

_O = Outcome
OUTCOME_TITLES = {
    _O.VALID: "✔ 证书真实有效",
    _O.SUPERSEDED: "证书真实，已更新",
    _O.REVOKED: "✘ 证书已撤销",
    _O.EXPIRED: "证书真实，已过有效期",
    _O.NOT_VALID: "✘ 证书无效",
}
OUTCOME_ENGLISH = {
    _O.VALID: "genuine and current",
    _O.SUPERSEDED: "genuine, since updated",
    _O.REVOKED: "revoked",
    _O.EXPIRED: "genuine, past its validity",
    _O.NOT_VALID: "not valid",
}
# One outcome in a table's cell (the batch verification's rows).
OUTCOME_LABELS = {
    _O.VALID: "真实有效",
    _O.SUPERSEDED: "真实，已更新",
    _O.REVOKED: "已撤销",
    _O.EXPIRED: "真实，已过有效期",
    _O.NOT_VALID: "无效",
}
# The banner's colour class: green, amber, red, grey (templates/static/ecert.css).
TONES = {
    _O.VALID: "ok",
    _O.SUPERSEDED: "updated",
    _O.REVOKED: "no",
    _O.EXPIRED: "expired",
    _O.NOT_VALID: "no",
}


@dataclass(frozen=True)
class Banner:
    outcome: Outcome
    tone: str
    title: str
    lines: tuple[str, ...]

    @property
    def english(self) -> str:
        return OUTCOME_ENGLISH[self.outcome]


def banner(result: Result, at: date) -> Banner:
    """The banner of a verification as of `at`: the outcome first, then
    what the committee needs to read off it."""
    outcome = result.outcome
    lines = {
        _O.VALID: _valid,
        _O.SUPERSEDED: _superseded,
        _O.REVOKED: _revoked,
        _O.EXPIRED: _expired,
        _O.NOT_VALID: _not_valid,
    }[outcome](result, at)
    if result.status_note:
        lines.append(result.status_note)
    return Banner(outcome, TONES[outcome], OUTCOME_TITLES[outcome], tuple(lines))


def _claims(result: Result) -> Claims:
    """The claims of a result whose outcome is not not_valid: a genuine token's."""
    c = result.claims
    assert c is not None  # genuine: the token was parsed
    return c


def _valid(result: Result, at: date) -> list[str]:
    c = _claims(result)
    issued = c.issued_at.date()
    when = f"查验日期 {at}" + (f"，早于本版签发日期 {issued}" if at < issued else "")
    return [f"签名真实，现行第 {c.version} 版，有效期至 {c.valid_until}（{when}）", *_verdict_lines(result)]


def _verdict_lines(result: Result, after_validity: bool = False) -> list[str]:
    """The verdict and, for a cycle under way or not qualified, how many
    requirements are met and what is short, with amounts; then the years
    short of the yearly rule (docs/rules.md: reported, a prerequisite a
    committee looks at, though not the cycle's verdict)."""
    reading, claims = result.reading, _claims(result)
    label = Verdict(claims.status).label
    if claims.status == 0 and after_validity:
        label = "签发时周期进行中（未经终审）"
    if reading is None:
        return [f"结论：{label}"]
    met, of = reading.requirements
    head = f"结论：{label} · 总学分 {reading.buckets[-1].credits:.2f}"
    lines = [head if claims.status == 1 else f"{head} · 已达 {met}/{of} 项要求"]
    if reading.shortfalls and claims.status != 1:
        lines.append(("尚未达标：" if claims.status == 0 else "未达标：") + reading.short_text)
    if reading.short_years:
        years = "、".join(str(y.year) for y in reading.short_years)
        lines.append(f"年度要求未达：{years} 年（原则性要求，不单独影响周期结论）")
    return lines


def _superseded(result: Result, at: date) -> list[str]:
    c, cur = _claims(result), result.current
    assert cur is not None  # outcome superseded: the register's current version
    updated = cur["issued_at"][:10] if cur["issued_at"] else "?"
    lapsed = cur["valid_until"] and at > date.fromisoformat(cur["valid_until"])
    return [
        f"此为第 {c.version} 版，签名真实，已于 {updated} 更新为第 {cur['version']} 版",
        f"现行第 {cur['version']} 版：结论 {Verdict.from_code(cur['status']).label if cur['status'] else '?'} · "
        f"总学分 {Decimal(cur['total']):.2f} · 有效期至 {cur['valid_until']}"
        + (f"（查验日期 {at} 已过其有效期）" if lapsed else ""),
        "请以现行版本为准：输入证书上的查验码可查看其全部内容",
    ]


def _revoked(result: Result, at: date) -> list[str]:
    return [result.check("status").message]


def _expired(result: Result, at: date) -> list[str]:
    c = _claims(result)
    return [
        f"签名真实，第 {c.version} 版，有效期至 {c.valid_until}，查验日期 {at} 已过有效期",
        *_verdict_lines(result, after_validity=True),
    ]


def _not_valid(result: Result, at: date) -> list[str]:
    failure = result.first_failure
    lines = [failure.message if failure else "证书未通过查验"]
    if failure is not None and failure.name == "format":
        # most often a link cut short or mistyped, not a forgery
        lines.append("链接可能不完整或有误：可改用证书上的编号与查验码查验")
    if failure is not None and failure.name == "pdf" and result.genuine:
        # the token inside is the bureau's: the page around it is what changed
        lines.append(
            "文件中的证书数据本身签名真实，但页面已被改动：请持证人提供原始 PDF，或扫描证书二维码查验"
        )
    return lines


def number_line(state: str, valid_until: date, at: date) -> tuple[str, str]:
    """(tone, text) of a lookup by number alone, from the newest version's
    state in the register."""
    if state == "revoked":
        return "no", "证书已撤销"
    if at > valid_until:
        return "expired", "已过有效期"
    return "ok", "现行有效"
