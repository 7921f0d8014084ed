"""The subcommands of `ecert` for PDF certificates: pdf, render, fonts."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from issuer.certificates.docsigning import DocumentKey
from issuer.certificates.keystore import open_document_key
from issuer.certificates.versions import latest
from verifier.profiles import RulesProfile

from ..db import read_session
from ..errors import NotFound
from ..pdf.batch import BatchRenderer, count_current, current_certificates, write_atomically
from ..pdf.document import view
from ..pdf.fonts import prepare
from ..pdf.render import Renderer
from ..pdf.sealing import Sealer
from . import Context, console, cycle_option, example, known_school, main

pass_context = click.make_pass_decorator(Context)


def font_cache(ctx: Context) -> Path:
    return ctx.settings.data_dir / "fonts"


@main.command(epilog=example("ecert pdf 6540040710000014 -o 6540040710000014.pdf"))
@click.argument("number")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="PDF 文件 / the PDF file to write.",
)
@pass_context
def pdf(ctx: Context, number: str, output: Path) -> None:
    """生成一份 PDF 证书 · write the current certificate of NUMBER as a PDF."""
    profile = ctx.profile(None)
    with read_session(ctx.engine()) as session:
        cert = latest(session, number)
    if cert.state != "current":  # a revoked certificate has no PDF to hand out
        raise NotFound(
            f"证书 {cert.number} 第 {cert.version} 版已撤销，没有现行版本可生成 PDF",
            f"{cert.number} has no current version (version {cert.version} is {cert.state})",
        )
    sealer = Sealer(document_key(ctx, profile), profile.issuer_name)
    data = Renderer(font_cache(ctx), sealer=sealer).render(view(cert, profile, ctx.settings.base_url))
    output.parent.mkdir(parents=True, exist_ok=True)  # `-o out/a.pdf` makes out/
    write_atomically(output, data)
    console().print(f"已生成 {output}（{len(data) // 1024} KB，第 {cert.version} 版）")


@main.command(epilog=example("ecert render --cycle 7 --school 6540040001 --out out/pdfs --workers 2"))
@cycle_option
@click.option("--school", help="只生成该学校代码的证书 / only this school.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="输出目录 / the folder for the PDFs (<number>.pdf).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="并行进程数 / parallel processes.",
)
@pass_context
def render(ctx: Context, cycle: int | None, school: str | None, out_dir: Path, workers: int) -> None:
    """批量生成 PDF 证书，内容未变的跳过 · render every current certificate in scope."""
    profile = ctx.profile(cycle)
    school = known_school(ctx, school)
    batch = BatchRenderer(
        profile, ctx.settings.base_url, font_cache(ctx), out_dir, workers, document_key(ctx, profile)
    )
    total = count_current(ctx.engine(), profile, school)
    columns = (TextColumn("生成 PDF"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console(stderr=True)) as bar:
        task = bar.add_task("render", total=total)
        summary = batch.run(
            current_certificates(ctx.engine(), profile, school), progress=lambda n: bar.advance(task, n)
        )
    out = console()
    out.print(
        f"生成 {summary.rendered}，未变化 {summary.unchanged}，失败 {len(summary.failed)}"
        + (f"，未生成 {summary.not_attempted}" if summary.stopped else "")
        + f"  [dim](rendered {summary.rendered}, unchanged {summary.unchanged}, "
        f"failed {len(summary.failed)}"
        + (f", not attempted {summary.not_attempted}" if summary.stopped else "")
        + f")[/]  → {out_dir}"
    )
    if summary.stopped:
        out.print(f"[bold red]已停止：{summary.stopped}。[/]请腾出磁盘空间后重新运行，已生成的不会重复生成。")
    for number, reason in summary.failed[:20]:
        out.print(f"  失败 {number}：{reason}")
    if summary.failed:
        raise click.exceptions.Exit(1)


def document_key(ctx: Context, profile: RulesProfile) -> DocumentKey:
    """The PDF-signing key, opened once here so that a wrong passphrase
    stops the command before any PDF, not in every worker."""
    with read_session(ctx.engine()) as session:
        key = ctx.keystore().document_key(session, profile.issuer_code)
    open_document_key(key.kid, Path(key.key_path))
    return key


@main.command()
@pass_context
def fonts(ctx: Context) -> None:
    """检查并准备证书字体 · check the CJK font and cut the certificate's copy."""
    f = prepare(font_cache(ctx))
    console().print(f"字体就绪：{f.source_regular}、{f.source_bold} → {f.regular.parent}")
