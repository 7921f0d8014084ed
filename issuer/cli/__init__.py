"""`ecert`: the one command for every operation of the issuer."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from verifier.clock import CHINA, today_in_china  # noqa: F401  (the subcommands' today)
from verifier.profiles import ProfileError, RulesProfile, load_profile, profile_for_cycle

from ..config import Settings, load_settings
from ..db import ensure_ready, make_engine
from ..errors import ConfigError, EcertError, InputRefused


def console(stderr: bool = False) -> Console:
    # Wide enough for the tables when output goes to a file or a pipe.
    return Console(stderr=stderr, width=None if sys.stdout.isatty() else 140, highlight=False)


class Context:
    """Settings and the database engine, made on first use."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._engine = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def engine(self, *, ready: bool = True):
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
        if ready:
            ensure_ready(self._engine)
        return self._engine

    def keystore(self):
        from issuer.certificates.keystore import Keystore

        return Keystore(self.settings.keys_dir, self.settings.actor)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def profile(self, cycle: int | None) -> RulesProfile:
        try:
            default = load_profile(self.settings.profile_id)
            return default if cycle is None else profile_for_cycle(cycle, default.issuer_code)
        except ProfileError as e:
            raise ConfigError(f"找不到适用的学分规则：{e}", str(e)) from None


def known_school(ctx: Context, code: str | None) -> str | None:
    """--school as given, once the roster is known to have it: else a
    clerk's typo would read as a school with nothing to do."""
    if code is None:
        return None
    from issuer.office.queries import require_school

    from ..db import read_session

    with read_session(ctx.engine()) as session:
        require_school(session, code)
    return code


def as_of_date(value: datetime | None) -> date:
    """--as-of: default today (China time); a day after today is refused, as
    a completion date after today is (docs/formats.md: no credit from the future)."""
    today = today_in_china()
    if value is None:
        return today
    if value.date() > today:
        raise InputRefused(
            f"--as-of {value.date()} 晚于今天（{today}，北京时间）：不能按未来日期计算学分或签发证书",
            f"--as-of {value.date()} is after today ({today}, China time)",
        )
    return value.date()


as_of_option = click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="按此日期计算：只计此日及以前完成的记录（默认今天，北京时间；不得晚于今天）/ "
    "count records completed on or before this date (default today, China time).",
)


def example(*lines: str) -> str:
    """The end of a command's --help: one example, lines kept as written."""
    return "\b\n例 / example:\n" + "\n".join(f"  {line}" for line in lines)


class ExistingFile(click.Path):
    """A file that must exist, refused in Chinese and English (click's own
    words, "Path 'x' does not exist.", are English alone)."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = Path(os.fsdecode(value))
        if not path.exists():
            raise InputRefused(f"找不到文件：{path}", f"{path}: no such file")
        if path.is_dir():
            raise InputRefused(f"{path} 是文件夹，不是文件", f"{path} is a folder, not a file")
        if not os.access(path, os.R_OK):
            raise InputRefused(f"无法读取文件 {path}：没有读取权限", f"{path} is not readable")
        return super().convert(value, param, ctx)


# click 8.4 and 8.2 named these; before, they were plain UsageErrors (or help printed at once)
_NO_SUCH_COMMAND: Any = getattr(click.exceptions, "NoSuchCommand", ())
_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


def usage_message(e: click.UsageError) -> tuple[str, str]:
    """Click's usage error in Chinese, and its own English."""
    en = e.format_message()
    hint = ""
    if isinstance(e, click.BadParameter):
        if e.param_hint is not None:
            hint = e.param_hint if isinstance(e.param_hint, str) else " / ".join(e.param_hint)
        elif e.param is not None:
            hint = e.param.get_error_hint(e.ctx)
    if isinstance(e, click.MissingParameter):
        kind = e.param_type or (e.param.param_type_name if e.param else "")
        return f"缺少{'参数' if kind == 'argument' else '选项'} {hint}".rstrip(), en
    if isinstance(e, click.BadParameter):
        return f"{hint or '参数'} 的值不正确", en
    if isinstance(e, click.NoSuchOption):
        maybe = f"（是否想用 {'、'.join(e.possibilities)}？）" if e.possibilities else ""
        return f"没有选项 {e.option_name}{maybe}", en
    if isinstance(e, _NO_SUCH_COMMAND):
        maybe = f"（是否想用 {'、'.join(e.possibilities)}？）" if e.possibilities else ""
        return f"没有命令 {e.command_name}{maybe}", en
    if isinstance(e, click.BadOptionUsage):
        return f"选项 {e.option_name} 用法不正确", en
    return "命令用法不正确", en


def print_usage_error(e: click.UsageError, around: click.Context | None = None) -> None:
    """The error, the command's usage and where its help is; `around`: the
    context it arose in, when click's parser left the error without one."""
    err = console(stderr=True)
    zh, en = usage_message(e)
    err.print(f"[bold red]错误：[/]{escape(zh)}")
    err.print(f"[dim]{escape(en)}[/]")
    if e.ctx is not None:
        err.print(f"用法 / {escape(e.ctx.get_usage())}", soft_wrap=True)
    where = e.ctx or around
    if where is not None:
        err.print(f"帮助 / help: {escape(where.command_path)} --help", soft_wrap=True)


class _NamesItsContext:
    """Click's parser raises some usage errors (an option without its value)
    with no context; the command's own is given them, so that the message
    shows this command's usage, not the top one's."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc]
        except click.UsageError as e:
            if e.ctx is None:
                e.ctx, e.cmd = ctx, ctx.command
            raise


class Command(_NamesItsContext, click.Command):
    pass


class Group(_NamesItsContext, click.Group):
    command_class = Command
    group_class = type  # a group's groups are Groups too


class Main(Group):
    group_class = Group  # its groups handle no errors themselves: Main does, once

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # `ecert --bogus` fails here, before invoke; `ecert` alone asks for help
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _NO_ARGS_IS_HELP:
            raise
        except click.UsageError as e:
            print_usage_error(e)
            raise click.exceptions.Exit(e.exit_code) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except _NO_ARGS_IS_HELP:
            raise  # `ecert roster` alone: its help, as click shows it
        except click.UsageError as e:  # a subcommand's missing argument, unknown option, bad value
            print_usage_error(e, ctx)
            ctx.exit(e.exit_code)
        except EcertError as e:
            err = console(stderr=True)
            err.print(f"[bold red]错误：[/]{escape(e.message)}")  # a file named [x].csv is text, not markup
            if e.detail:
                err.print(f"[dim]{escape(e.detail)}[/]")
            if getattr(e, "errors", None):
                from .show import print_refusal

                print_refusal(err, e)
            ctx.exit(e.exit_code)
        except OSError as e:  # a file or folder that cannot be read or written: say which, no traceback
            err = console(stderr=True)
            # os.replace names the temporary file first and the target second
            name = e.filename2 or e.filename
            where = f"{name}：" if name else ""
            err.print(f"[bold red]错误：[/]无法读写文件 {where}{e.strerror or e}")
            err.print(f"[dim]{type(e).__name__}: {e}[/]")
            ctx.exit(1)


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """教师继续教育电子证书 · teacher continuing-education e-certificates.

    Settings come from the environment: DATABASE_URL (default SQLite in
    ECERT_DATA_DIR, default ./data), ECERT_PROFILE (default horgos-7),
    ECERT_KEYS_DIR (default ./keys), ECERT_KEY_PASSPHRASE (opens the private
    keys), ECERT_BASE_URL (the QR code's URL base; default the port of
    ECERT_PORT, else 5000, on 127.0.0.1), ECERT_ACTOR (the name in
    the audit log; default the OS user).
    """
    # What the service writes (the database, the broker file, PDFs, the
    # caches, sign-in codes) holds personal data: its user's alone.
    os.umask(0o077)
    ctx.obj = Context()
    ctx.call_on_close(ctx.obj.close)


cycle_option = click.option(
    "--cycle",
    type=int,
    default=None,
    help="管理周期编号 cycle number (default: the bureau's current profile, 7).",
)

from . import certs, commands, documents, staff, web  # noqa: E402,F401  (registers the subcommands)
