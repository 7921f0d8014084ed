"""The subcommands of `ecert` for staff accounts and API tokens."""
from __future__ import annotations

import click

from .. import staff as staff_accounts
from ..db import read_session, write_session
from . import Context, console, main

pass_context = click.make_pass_decorator(Context)


@main.group()
def staff() -> None:
    """教育局与学校工作人员账号 · staff accounts (admin, auditor, registrar)."""


@staff.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(sorted(staff_accounts.ROLES)), required=True,
              help="admin 管理员 · auditor 审核员 · registrar 学校专管员")
@click.option("--school", help="学校专管员所属学校代码 / a registrar's school code.")
@click.option("--name", "display_name", default="", help="显示名称 / display name.")
@click.option("--exist-ok", is_flag=True,
              help="账号已存在（同一角色和学校）时不报错、不改动 / an existing identical account is fine.")
@pass_context
def staff_add(ctx: Context, username: str, role: str, school: str | None, display_name: str,
              exist_ok: bool) -> None:
    """新建账号并显示一次性密码 · create an account; prints its one-time code."""
    with write_session(ctx.engine()) as session:
        existing = staff_accounts.find_account(session, username)
        if exist_ok and existing is not None and (existing.role, existing.school_code) == (role, school):
            console().print(f"账号 {existing.username} 已存在，未改动")
            return
        code = staff_accounts.create_account(session, username, display_name or username, role, school)
    console().print(f"已创建 {staff_accounts.ROLES[role]} 账号 {username.lower()}，一次性密码：{code}"
                    "（首次登录后须修改）")


@staff.command("reset")
@click.argument("username")
@pass_context
def staff_reset(ctx: Context, username: str) -> None:
    """重置密码为新的一次性密码 · reset to a new one-time code."""
    with write_session(ctx.engine()) as session:
        code = staff_accounts.reset_code(session, username)
    console().print(f"{username.lower()} 的新一次性密码：{code}")


@staff.command("list")
@pass_context
def staff_list(ctx: Context) -> None:
    """列出账号 · list the accounts."""
    with read_session(ctx.engine()) as session:
        for a in staff_accounts.list_accounts(session):
            state = "" if a.active else "（停用）"
            console().print(f"{a.username}\t{staff_accounts.ROLES[a.role]}\t{a.school_code or '全市'}\t"
                            f"{a.display_name}{state}")


@staff.command("token")
@click.argument("username")
@click.option("--name", "token_name", default="api", show_default=True, help="用途 / what the token is for.")
@pass_context
def staff_token(ctx: Context, username: str, token_name: str) -> None:
    """为其他系统生成接口令牌（仅显示一次）· a bearer token for the JSON API, shown once."""
    with write_session(ctx.engine()) as session:
        token = staff_accounts.create_token(session, username, token_name)
    console().print(token)
