"""The subcommands of `ecert` for the ledger: init, imports, credits, summary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from issuer.ledger.credits.ledger import all_sheets, find_holder, sheet_for
from issuer.ledger.importing import progress as stages
from issuer.ledger.importing.limits import MAX_ERRORS
from issuer.ledger.importing.projects import import_projects
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.report import ImportRefused
from issuer.ledger.importing.roster import import_roster

from ..db import migrate, read_session, write_session
from . import (
    Context,
    ExistingFile,
    as_of_date,
    as_of_option,
    console,
    cycle_option,
    example,
    main,
    today_in_china,
)
from .show import print_import_result, print_sheet, print_summary, summarise

pass_context = click.make_pass_decorator(Context)
existing_file = ExistingFile()
# An import shows a bar once a stage passes this many rows: a small file is
# done before a bar would say anything.
BAR_MIN_ROWS = 5_000
STAGE_LABELS = {stages.READ: "读取 read", stages.CHECK: "校验 check", stages.WRITE: "写入 write"}
report_option = click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"拒收时把错误报告（前 {MAX_ERRORS} 处，及其余的处数）写入此 CSV 文件 / "
    f"write the refusal's report (the first {MAX_ERRORS} errors, and how many more) "
    "here.",
)


@main.command(epilog=example("ecert init"))
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


class ImportBar:
    """An import's progress (issuer/ledger/importing/progress.py) as a bar
    per stage on stderr, started only once a stage passes BAR_MIN_ROWS rows,
    so that what goes to stdout (the result, piped or read) has no bar in it."""

    def __init__(self) -> None:
        self.bar: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if self.bar is None:
            if max(done, total or 0) < BAR_MIN_ROWS:
                return
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            self.bar = Progress(*columns, console=console(stderr=True))
            self.bar.start()
        task = self.tasks.get(stage)
        if task is None:
            task = self.tasks[stage] = self.bar.add_task(STAGE_LABELS.get(stage, stage), total=total)
        self.bar.update(task, completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _run_import(ctx: Context, report: Path | None, work: Callable) -> None:
    """`work(session, progress)` in one transaction, its progress on a bar."""
    bar = ImportBar()
    try:
        try:
            with write_session(ctx.engine()) as session:
                result = work(session, bar)
        finally:
            bar.close()  # the bar ends before the result or the refusal is printed
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


@roster.command("import", epilog=example("ecert roster import 教师名册.csv --cycle 7"))
@click.argument("file", type=existing_file)
@cycle_option
@report_option
@click.option(
    "--new-schools",
    is_flag=True,
    help="允许名册中出现本局尚无的学校代码并新建这些学校（否则整体拒收，列出新代码及其所在行；"
    "库中尚无学校时的首次导入不需要）/ let codes of schools the bureau does not have yet create them "
    "(else the file is refused, naming each new code and its rows; not needed for the first roster).",
)
@pass_context
def roster_import(
    ctx: Context, file: Path, cycle: int | None, report: Path | None, new_schools: bool
) -> None:
    """导入教师名册并登记到周期（分配证书编号）· import a roster (CSV/XLSX) and register it for the cycle."""
    profile = ctx.profile(cycle)
    _run_import(
        ctx, report, lambda s, bar: import_roster(s, file, profile, new_schools=new_schools, progress=bar)
    )


@main.group()
def projects() -> None:
    """培训项目备案 · approved training projects."""


@projects.command("import", epilog=example("ecert projects import 培训项目备案.xlsx --report 错误.csv"))
@click.argument("file", type=existing_file)
@report_option
@pass_context
def projects_import(ctx: Context, file: Path, report: Path | None) -> None:
    """导入培训项目备案清单 · import approved projects (CSV/XLSX)."""
    _run_import(ctx, report, lambda s, bar: import_projects(s, file, progress=bar))


@main.group()
def records() -> None:
    """培训记录 · training records."""


@records.command("import", epilog=example("ecert records import 培训记录.csv --report 错误.csv"))
@click.argument("file", type=existing_file)
@report_option
@pass_context
def records_import(ctx: Context, file: Path, report: Path | None) -> None:
    """导入培训记录（教育局导入即认定）· import training records (recognised on import)."""
    _run_import(ctx, report, lambda s, bar: import_records(s, file, progress=bar))


@main.command(epilog=example("ecert credits 654004-07-1-000001-4 --as-of 2026-06-30"))
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


@main.command(epilog=example("ecert summary --cycle 7 --school 6540040001"))
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
