"""The subcommands of `ecert` for the ledger: init, imports, credits, summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from issuer.ledger.credits.ledger import all_sheets, find_holder, sheet_for
from issuer.ledger.importing.limits import MAX_ERRORS
from issuer.ledger.importing.projects import import_projects
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.report import ImportRefused
from issuer.ledger.importing.roster import import_roster

from ..db import migrate, read_session, write_session
from . import Context, as_of_date, as_of_option, console, cycle_option, main, today_in_china
from .show import print_import_result, print_sheet, print_summary, summarise

pass_context = click.make_pass_decorator(Context)
existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
report_option = click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"拒收时把错误报告（前 {MAX_ERRORS} 处，及其余的处数）写入此 CSV 文件 / "
    f"write the refusal's report (the first {MAX_ERRORS} errors, and how many more) "
    "here.",
)


@main.command()
@pass_context
def init(ctx: Context) -> None:
    """创建或升级数据库 · create or migrate the database (idempotent)."""
    engine = ctx.engine(ready=False)
    before, after = migrate(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console().print(f"数据库已是最新（{after}）：{where}")
    else:
        console().print(f"数据库已{'创建' if before is None else '升级'}到 {after}：{where}")
    ahead = _records_ahead(engine)
    if ahead:  # stored before imports refused them: they count only from their completion day on
        console().print(
            f"[yellow]注意：库中有 {ahead} 条培训记录的完成日期晚于今天，学分表与证书自其完成日起才计入。[/]"
            f" [dim]({ahead} records are dated after today; sheets count them from that day)[/]"
        )


def _records_ahead(engine) -> int:
    from sqlalchemy import func, select

    from ..db import read_session
    from ..models import TrainingRecord

    with read_session(engine) as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(TrainingRecord)
                .where(TrainingRecord.completed_on > today_in_china())
            )
            or 0
        )


def _run_import(ctx: Context, report: Path | None, work: Callable) -> None:
    try:
        with write_session(ctx.engine()) as session:
            result = work(session)
    except ImportRefused as e:
        if report:
            try:
                e.write_csv(report)
                e.detail += f"; report written to {report}"
            except OSError as failed:  # the refusal itself must still reach the clerk
                e.detail += f"; the report could not be written to {report}: {failed.strerror or failed}"
        raise
    print_import_result(console(), result)


@main.group()
def roster() -> None:
    """教师名册 · the teacher roster."""


@roster.command("import")
@click.argument("file", type=existing_file)
@cycle_option
@report_option
@pass_context
def roster_import(ctx: Context, file: Path, cycle: int | None, report: Path | None) -> None:
    """导入教师名册并登记到周期（分配证书编号）· import a roster (CSV/XLSX) and register it for the cycle."""
    profile = ctx.profile(cycle)
    _run_import(ctx, report, lambda s: import_roster(s, file, profile))


@main.group()
def projects() -> None:
    """培训项目备案 · approved training projects."""


@projects.command("import")
@click.argument("file", type=existing_file)
@report_option
@pass_context
def projects_import(ctx: Context, file: Path, report: Path | None) -> None:
    """导入培训项目备案清单 · import approved projects (CSV/XLSX)."""
    _run_import(ctx, report, lambda s: import_projects(s, file))


@main.group()
def records() -> None:
    """培训记录 · training records."""


@records.command("import")
@click.argument("file", type=existing_file)
@report_option
@pass_context
def records_import(ctx: Context, file: Path, report: Path | None) -> None:
    """导入培训记录（教育局导入即认定）· import training records (recognised on import)."""
    _run_import(ctx, report, lambda s: import_records(s, file))


@main.command()
@click.argument("teacher")
@cycle_option
@click.option(
    "--json", "as_json", is_flag=True, help="输出 docs/formats.md 的 JSON / the JSON of docs/formats.md."
)
@as_of_option
@pass_context
def credits(ctx: Context, teacher: str, cycle: int | None, as_json: bool, as_of) -> None:
    """学分表 · the credit sheet of TEACHER (certificate number or ID number)."""
    profile = ctx.profile(cycle)
    with read_session(ctx.engine()) as session:
        holder = find_holder(session, teacher, profile)
        sheet = sheet_for(session, holder, profile, as_of_date(as_of))
    if as_json:
        click.echo(json.dumps(sheet.to_json_dict(), ensure_ascii=False, indent=2))
    else:
        print_sheet(console(), holder, sheet, profile)


@main.command()
@cycle_option
@click.option("--school", help="只统计该学校代码 / only this school code.")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def summary(ctx: Context, cycle: int | None, school: str | None, as_json: bool) -> None:
    """按学校汇总合格人数 · how many teachers qualify, by school."""
    profile = ctx.profile(cycle)
    with read_session(ctx.engine()) as session:
        result = summarise(all_sheets(session, profile, school=school, as_of=today_in_china()))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_summary(console(), result, profile)
