"""The subcommands of `ecert` for the web service: passwords, serve, worker."""
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
    # Background batches: without CELERY_BROKER_URL, one worker of our own
    # on the embedded broker (issuer/tasks.py); with it, `ecert worker`s.
    from .. import tasks
    job_worker = tasks.start_embedded_worker() if tasks.embedded() else None
    console().print("批量任务 jobs:       " + ("内置工作进程（embedded worker, broker in the data folder）"
                                            if job_worker else "由 ecert worker 处理（CELERY_BROKER_URL）"))
    try:
        Server().run()
    finally:
        if job_worker is not None:
            tasks.stop_worker(job_worker)


@main.command()
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="并行进程数（默认 CPU 核数；内置队列时为 1）/ processes (default: one per CPU).")
@click.option("--pool", type=click.Choice(["prefork", "solo"]), default=None,
              help="Celery 进程池 / the Celery pool (default prefork; solo on the embedded broker).")
@click.option("--loglevel", default="info", show_default=True)
@click.option("-n", "--hostname", default=None, help="工作进程名 / the worker's node name (name@host).")
@pass_context
def worker(ctx: Context, concurrency: int | None, pool: str | None, loglevel: str,
           hostname: str | None) -> None:
    """后台批量任务的工作进程（Celery）· run a worker for the background batches."""
    from .. import tasks
    ctx.engine()  # refuse to start on a database that is not ready
    tasks.app.worker_main(tasks.worker_argv(concurrency=concurrency, pool=pool, loglevel=loglevel,
                                            hostname=hostname))
