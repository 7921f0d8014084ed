"""The subcommands of `ecert` for the web service: passwords, serve."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import click

from ..accounts import issue_codes
from ..db import write_session
from . import Context, console, cycle_option, main

pass_context = click.make_pass_decorator(Context)


@main.group()
def passwords() -> None:
    """教师登录码 · teachers' one-time sign-in codes."""


@passwords.command("issue")
@cycle_option
@click.option("--school", help="只为该学校代码的教师生成 / only this school.")
@click.option("--reset", is_flag=True, help="已有账户的也重新生成（原密码作废）/ also reset existing accounts.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="登录码 CSV（仅本机可读）/ the CSV of codes, readable by you alone.")
@pass_context
def passwords_issue(ctx: Context, cycle: int | None, school: str | None, reset: bool, output: Path) -> None:
    """批量生成一次性登录码，教师首次登录后须修改 · issue one-time codes in batch."""
    profile = ctx.profile(cycle)
    with write_session(ctx.engine()) as session:
        codes = issue_codes(session, profile, school=school, reset=reset)
        output.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(["证书编号", "姓名", "学校", "一次性登录码"])
            w.writerows([c.number, c.name, c.school, c.code] for c in codes)
    console().print(f"已生成 {len(codes)} 个一次性登录码 → {output}（请妥善分发，文件含敏感信息）")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """启动网页服务（gunicorn）· serve the teachers' pages."""
    from gunicorn.app.base import BaseApplication

    from ..pdf.fonts import prepare
    from ..web import create_app
    ctx.engine()  # refuse to start on a database that is not ready
    prepare(ctx.settings.data_dir / "fonts")  # refuse to start without the fonts or HarfBuzz
    app = create_app(ctx.settings)

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")

        def load(self):
            return app

    base = f"http://{host}:{port}"
    console().print(f"教师登录 teachers:   {base}/teacher/login")
    console().print(f"证书查验 verifier:   {base}/verify   （扫码网址 {ctx.settings.base_url}/V/…）")
    console().print(f"查验接口 API:        {base}/api/v1/openapi.json")
    Server().run()
