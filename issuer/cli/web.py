"""The subcommands of `ecert` for the web service: passwords, serve, worker."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import click

from issuer.certificates.keystore import PASSPHRASE_ENV
from issuer.ledger.importing import safe_csv
from issuer.office.accounts import issue_codes

from ..db import write_session
from . import Context, console, cycle_option, example, main

pass_context = click.make_pass_decorator(Context)
EMBEDDED_WORKER_ENV = "ECERT_EMBEDDED_WORKER_PID"  # set by serve for the web server it becomes
RENDER_JOB_ENV = "ECERT_RENDER_JOB"  # the background render job serve started, for its banner
# gunicorn's default, with the path (%(U)s) in place of the request line: no query string
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s"'


@main.group()
def passwords() -> None:
    """教师登录码 · teachers' one-time sign-in codes."""


@passwords.command(
    "issue", epilog=example("ecert passwords issue --school 6540040001 -o codes-6540040001.csv")
)
@cycle_option
@click.option("--school", help="只为该学校代码的教师生成 / only this school.")
@click.option(
    "--reset", is_flag=True, help="已有账户的也重新生成（原密码作废）/ also reset existing accounts."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="登录码 CSV（仅本机可读）/ the CSV of codes, readable by you alone.",
)
@pass_context
def passwords_issue(ctx: Context, cycle: int | None, school: str | None, reset: bool, output: Path) -> None:
    """批量生成一次性登录码，教师首次登录后须修改 · issue one-time codes in batch."""
    profile = ctx.profile(cycle)
    with write_session(ctx.engine()) as session:
        codes = issue_codes(session, profile, school=school, reset=reset)
        output.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
            w = safe_csv.writer(f)  # names and schools come from the roster: Excel must not run them
            w.writerow(["证书编号", "姓名", "学校", "一次性登录码"])
            w.writerows([c.number, c.name, c.school, c.code] for c in codes)
    console().print(f"已生成 {len(codes)} 个一次性登录码 → {output}（请妥善分发，文件含敏感信息）")


@main.command(epilog=example("ecert serve --host 0.0.0.0 --port 5000 --workers 4"))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="默认取 ECERT_PORT（未设置时 5000），与二维码网址一致 / default ECERT_PORT (else 5000), as the QR codes' URL.",
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--web-only",
    is_flag=True,
    hidden=True,
    help="(internal) the web server alone: serve runs itself so, after starting the jobs' worker.",
)
@click.option(
    "--render-pdfs",
    is_flag=True,
    help="启动后在后台生成全部现行证书的 PDF（批量任务，进度见工作台）/ "
    "render every current certificate's PDF as a background job once serving.",
)
@pass_context
def serve(ctx: Context, host: str, port: int | None, workers: int, web_only: bool, render_pdfs: bool) -> None:
    """启动网页服务（gunicorn）· serve the teachers' pages, the office and the verifier.

    Without CELERY_BROKER_URL it also starts the background jobs' worker. The
    worker signs, so it keeps ECERT_KEY_PASSPHRASE; the web server is then
    started afresh without it, so that no web process ever holds the key's
    passphrase (a reissue from the office pages is a job for the worker)."""
    ctx.engine()  # refuse to start on a database that is not ready
    port = port or ctx.settings.port
    from ..pdf.fonts import prepare

    prepare(ctx.settings.data_dir / "fonts")  # refuse to start without the fonts or HarfBuzz
    from issuer.office import tasks

    if not web_only:
        job_worker = tasks.start_embedded_worker() if tasks.embedded() else None
        env = {k: v for k, v in os.environ.items() if k != PASSPHRASE_ENV}
        env[EMBEDDED_WORKER_ENV] = str(job_worker.pid) if job_worker else ""
        env[RENDER_JOB_ENV] = str(_render_job(ctx)) if render_pdfs else ""
        argv = [
            sys.executable,
            "-m",
            "issuer.cli",
            "serve",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--web-only",
        ]
        sys.stdout.flush()
        os.execve(sys.executable, argv, env)  # the worker dies with this process (PR_SET_PDEATHSIG)
    _run_web(
        ctx,
        host,
        port,
        workers,
        embedded_worker=os.environ.get(EMBEDDED_WORKER_ENV) or None,
        render_job=os.environ.get(RENDER_JOB_ENV) or None,
    )


def _render_job(ctx: Context) -> int:
    """A background job rendering every current certificate (those already
    rendered and unchanged are skipped), so that the service answers at
    once and the PDFs follow: its progress is on the office's jobs page."""
    from issuer.office import jobs, tasks
    from issuer.office.staff import Scope

    return jobs.start(
        ctx.engine(), ctx.settings, Scope.command_line(ctx.settings.actor), "render", None, tasks.enqueue
    )


def _run_web(
    ctx: Context, host: str, port: int, workers: int, embedded_worker: str | None, render_job: str | None
) -> None:
    from gunicorn.app.base import BaseApplication

    from verifier.web import serving

    from ..web import create_app

    app = create_app(ctx.settings)

    class Server(BaseApplication):
        def load_config(self):
            for name, value in serving.settings().items():  # sync workers, start-up heap frozen (gc)
                self.cfg.set(name, value)
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            # the path without its query string: a 查验码 (/verify?code=…) never reaches a log
            self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)

        def load(self):
            return app

    base = f"http://{host}:{port}"
    console().print(f"首页 home:           {base}/")
    console().print(f"教师登录 teachers:   {base}/teacher/login")
    console().print(f"证书查验 verifier:   {base}/verify   （扫码网址 {ctx.settings.base_url}/V/…）")
    console().print(f"批量查验 batch:      {base}/verify/batch   （评审委员会一次查验整批申报人）")
    console().print(f"查验接口 API:        {base}/api/v1/openapi.json")
    if render_job:
        console().print(
            f"证书 PDF:           后台生成中，进度见 {base}/office/jobs/{render_job}（工作台登录后）"
            "  [dim](rendering in the background)[/]"
        )
    console().print(
        "批量任务 jobs:       "
        + (
            f"内置工作进程 pid {embedded_worker}（embedded worker, broker in the data folder）"
            if embedded_worker
            else "由 ecert worker 处理（CELERY_BROKER_URL）"
        )
    )
    Server().run()


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=None,
    help="并行进程数（默认 CPU 核数；内置队列时为 1）/ processes (default: one per CPU).",
)
@click.option(
    "--pool",
    type=click.Choice(["prefork", "solo"]),
    default=None,
    help="Celery 进程池 / the Celery pool (default prefork; solo on the embedded broker).",
)
@click.option("--loglevel", default="info", show_default=True)
@click.option("-n", "--hostname", default=None, help="工作进程名 / the worker's node name (name@host).")
@pass_context
def worker(
    ctx: Context, concurrency: int | None, pool: str | None, loglevel: str, hostname: str | None
) -> None:
    """后台批量任务的工作进程（Celery）· run a worker for the background batches."""
    from issuer.office import tasks

    ctx.engine()  # refuse to start on a database that is not ready
    tasks.keep_environment_private()
    if tasks.embedded():
        # Celery's page-long warning for a worker run as root is for servers: on the
        # embedded broker (a newcomer's first run, often root in a container) the
        # worker takes only our own JSON messages from a file of this user's alone.
        warnings.filterwarnings("ignore", message="You're running the worker with superuser privileges")
    tasks.app.worker_main(
        tasks.worker_argv(concurrency=concurrency, pool=pool, loglevel=loglevel, hostname=hostname)
    )
