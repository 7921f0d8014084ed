"""The subcommands of `ecert` for staff accounts and API tokens."""

from __future__ import annotations

import click

from issuer.office import staff as staff_accounts

from ..db import read_session, write_session
from . import Context, console, main

pass_context = click.make_pass_decorator(Context)


@main.group()
def staff() -> None:
    """教育局与学校工作人员账号 · staff accounts (admin, auditor, registrar)."""


@staff.command("add")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(sorted(staff_accounts.ROLES)),
    required=True,
    help="admin 管理员 · auditor 审核员 · registrar 学校专管员",
)
@click.option("--school", help="学校专管员所属学校代码 / a registrar's school code.")
@click.option("--name", "display_name", default="", help="显示名称 / display name.")
@click.option(
    "--exist-ok",
    is_flag=True,
    help="账号已存在（同一角色和学校）时不报错、不改动 / an existing identical account is fine.",
)
@pass_context
def staff_add(
    ctx: Context, username: str, role: str, school: str | None, display_name: str, exist_ok: bool
) -> None:
    """新建账号并显示一次性密码 · create an account; prints its one-time code."""
    with write_session(ctx.engine()) as session:
        existing = staff_accounts.find_account(session, username)
        if exist_ok and existing is not None and (existing.role, existing.school_code) == (role, school):
            console().print(f"账号 {existing.username} 已存在，未改动")
            return
        code = staff_accounts.create_account(session, username, display_name or username, role, school)
    console().print(
        f"已创建 {staff_accounts.ROLES[role]} 账号 {username.lower()}，一次性密码：{code}（首次登录后须修改）"
    )


@staff.command("reset")
@click.argument("username")
@pass_context
def staff_reset(ctx: Context, username: str) -> None:
    """重置密码为新的一次性密码，并结束其会话、作废其接口令牌 · a new one-time code; sessions and tokens end."""
    with write_session(ctx.engine()) as session:
        code = staff_accounts.reset_code(session, username)
    console().print(f"{username.lower()} 的新一次性密码：{code}（原有登录会话已结束，接口令牌已作废）")


@staff.command("disable")
@click.argument("username")
@pass_context
def staff_disable(ctx: Context, username: str) -> None:
    """停用账号（如人员离职）：不能登录，会话结束，接口令牌作废 · shut an account, its sessions and tokens."""
    with write_session(ctx.engine()) as session:
        n = staff_accounts.disable(session, username)
    console().print(f"账号 {username.lower()} 已停用；登录会话已结束，作废接口令牌 {n} 个")


@staff.command("enable")
@click.argument("username")
@pass_context
def staff_enable(ctx: Context, username: str) -> None:
    """重新启用账号，并生成新的一次性密码 · open a shut account again, with a new one-time code."""
    with write_session(ctx.engine()) as session:
        code = staff_accounts.enable(session, username)
    console().print(f"账号 {username.lower()} 已重新启用，新一次性密码：{code}")


@staff.command("revoke-token")
@click.argument("username")
@click.option(
    "--name", "token_name", default=None, help="只作废此用途的令牌（默认全部）/ only tokens of this name."
)
@pass_context
def staff_revoke_token(ctx: Context, username: str, token_name: str | None) -> None:
    """作废账号的接口令牌 · revoke an account's API tokens (all, or those of one name)."""
    with write_session(ctx.engine()) as session:
        n = staff_accounts.revoke_tokens(session, username, name=token_name)
    console().print(f"已作废 {username.lower()} 的接口令牌 {n} 个")


@staff.command("list")
@pass_context
def staff_list(ctx: Context) -> None:
    """列出账号 · list the accounts."""
    with read_session(ctx.engine()) as session:
        for a in staff_accounts.list_accounts(session):
            state = "" if a.active else "（停用）"
            console().print(
                f"{a.username}\t{staff_accounts.ROLES[a.role]}\t{a.school_code or '全市'}\t"
                f"{a.display_name}{state}"
            )


@staff.command("token")
@click.argument("username")
@click.option("--name", "token_name", default="api", show_default=True, help="用途 / what the token is for.")
@click.option(
    "--days",
    type=click.IntRange(1, staff_accounts.MAX_TOKEN_DAYS),
    default=staff_accounts.TOKEN_DAYS,
    show_default=True,
    help="有效天数 / days until it expires.",
)
@pass_context
def staff_token(ctx: Context, username: str, token_name: str, days: int) -> None:
    """为其他系统生成接口令牌（仅显示一次，到期失效）· a bearer token for the JSON API, shown once."""
    with write_session(ctx.engine()) as session:
        token = staff_accounts.create_token(session, username, token_name, days)
    console().print(token)
    console(stderr=True).print(f"有效期 {days} 天；作废：ecert staff revoke-token {username.lower()}")
