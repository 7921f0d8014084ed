"""The subcommands of `ecert` for certificates: keys, issue, show, revoke,
verify, status export, audit verify."""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from issuer.certificates import docsigning
from issuer.certificates.audit import verify_chain
from issuer.certificates.issuance import IssueOptions, Issuer
from issuer.certificates.keystore import open_document_key
from issuer.certificates.snapshot import build_snapshot, write_snapshot
from issuer.certificates.versions import history, history_json, latest, show_json, signed_by
from issuer.certificates.versions import revoke as revoke_certificate
from verifier.clock import CHINA, today_in_china
from verifier.inputs import names_a_missing_file
from verifier.keyset import KeySet, KeySetError
from verifier.status import DatabaseStatus, SnapshotError, SnapshotStatus
from verifier.verify import Verifier

from ..db import read_session, write_session
from ..errors import ConfigError, EcertError, InputRefused
from . import (
    Context,
    ExistingFile,
    as_of_date,
    as_of_option,
    console,
    cycle_option,
    example,
    known_school,
    main,
)
from .show import print_history, print_issue_summary, print_keys, print_preview, print_verification

pass_context = click.make_pass_decorator(Context)
date_type = click.DateTime(["%Y-%m-%d"])
NOT_VALID_EXIT = 4


@main.group()
def keys() -> None:
    """签名密钥 · the bureau's signing keys (ECERT_KEYS_DIR, ECERT_KEY_PASSPHRASE)."""


@keys.command("init", epilog=example("ecert keys init   # 口令取自环境变量 ECERT_KEY_PASSPHRASE"))
@pass_context
def keys_init(ctx: Context) -> None:
    """生成首个签名密钥（已有则不变）· create the first signing key (idempotent).

    It makes the token key and, beside it, the PDF-signing key with its
    self-signed certificate; for a key made before PDFs were signed, it adds
    the PDF-signing key."""
    profile = ctx.profile(None)
    bureau = profile.issuer_code
    store = ctx.keystore()
    with write_session(ctx.engine()) as session:
        active = store.active(session, bureau)
        if active is None:
            active = store.create(session, bureau, profile.issuer_name)
            console().print(f"已生成签名密钥 {active.kid}（私钥：{store.path(active.kid)}）")
            console().print(f"已生成 PDF 签章证书（私钥：{store.document_key_path(active.kid)}）")
            return
        store.open(active.kid)  # proves the passphrase opens it
        console().print(f"签名密钥已存在：{active.kid}")
        if not active.pdf_certificate:
            store.add_document_key(active, profile.issuer_name)
            console().print(f"已为它生成 PDF 签章证书（私钥：{store.document_key_path(active.kid)}）")


@keys.command("rotate")
@pass_context
def keys_rotate(ctx: Context) -> None:
    """启用新密钥，旧密钥停用但保留用于查验 · start a new key; the old one verifies on."""
    profile = ctx.profile(None)
    store = ctx.keystore()
    with write_session(ctx.engine()) as session:
        old, new = store.rotate(session, profile.issuer_code, profile.issuer_name)
    console().print(f"新签名密钥 {new.kid}" + (f"；{old.kid} 已停用（其签发的证书仍可查验）" if old else ""))


@keys.command(
    "csr",
    epilog=example(
        "ecert keys csr -o bureau.csr   # 交 CA；收到证书后：", "ecert keys import-cert bureau-signed.pem"
    ),
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="写入文件 / write to this file."
)
@pass_context
def keys_csr(ctx: Context, output: Path | None) -> None:
    """PDF 签章密钥的证书申请（交本机关 CA 签发）· a CSR for the PDF-signing key, for a CA."""
    profile = ctx.profile(None)
    store = ctx.keystore()
    with read_session(ctx.engine()) as session:
        dk = store.document_key(session, profile.issuer_code)
    key = open_document_key(dk.kid, Path(dk.key_path))
    pem = docsigning.request(key, profile.issuer_code, profile.issuer_name)
    if output:
        output.write_bytes(pem)
        console().print(f"证书申请已写入 {output}")
    else:
        click.echo(pem.decode(), nl=False)


@keys.command("import-cert")
@click.argument("pem_file", type=ExistingFile())
@pass_context
def keys_import_cert(ctx: Context, pem_file: Path) -> None:
    """以 CA 签发的证书（及证书链）替换自签 PDF 签章证书 · install a CA-issued certificate."""
    profile = ctx.profile(None)
    with write_session(ctx.engine()) as session:
        row = ctx.keystore().install_certificate(
            session, profile.issuer_code, pem_file.read_bytes(), str(pem_file)
        )
    console().print(
        f"密钥 {row.kid} 的 PDF 签章证书已替换；此后生成的 PDF 用它签章（请重新运行 ecert render）"
    )


@keys.command("certs")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="写入文件 / write to this file."
)
@pass_context
def keys_certs(ctx: Context, output: Path | None) -> None:
    """PDF 签章证书（PEM，与公钥集一同公布）· the PDF-signing certificates, PEM."""
    text = KeySet.from_database(ctx.engine()).pdf_certificates_pem()
    if output:
        output.write_text(text, encoding="utf-8")
        console().print(f"PDF 签章证书已写入 {output}")
    else:
        click.echo(text, nl=False)


@keys.command("list")
@pass_context
def keys_list(ctx: Context) -> None:
    """列出签名密钥及其使用期 · list keys with their use windows and status."""
    print_keys(console(), KeySet.from_database(ctx.engine()))


@keys.command("jwks")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="写入文件（默认输出到屏幕）/ write to this file.",
)
@pass_context
def keys_jwks(ctx: Context, output: Path | None) -> None:
    """公钥集（JWKS）· the public key set as a JWKS, for verifiers."""
    text = json.dumps(KeySet.from_database(ctx.engine()).to_jwks(), ensure_ascii=False, indent=2)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
        console().print(f"公钥集已写入 {output}")
    else:
        click.echo(text)


@keys.command("compromise")
@click.argument("kid")
@click.option(
    "--as-of",
    "as_of",
    required=True,
    help="泄露起始时间 YYYY-MM-DD（当日 0 时，北京时间）或 ISO 8601 时间 / from when.",
)
@click.option("--note", default="", help="说明 / a note for the audit log.")
@pass_context
def keys_compromise(ctx: Context, kid: str, as_of: str, note: str) -> None:
    """标记密钥泄露：此后由它签发的证书一律无效 · mark a key compromised as of a time."""
    when = _moment(as_of)
    with write_session(ctx.engine()) as session:
        key = ctx.keystore().compromise(session, kid, when, note)
        signed, after = signed_by(session, key.kid, when)
    out = console()
    out.print(f"密钥 {key.kid} 已标记为自 {when.isoformat()} 起泄露。")
    out.print(
        f"它签发的现行证书 {signed} 份，其中 {after} 份签发于泄露时间之后，现在查验不通过；"
        f"下一次 ecert issue 会用新密钥重新签发全部 {signed} 份。"
        f"  [dim](current certificates signed by {key.kid}: {signed}; {after} of them at or after "
        f"{when.isoformat()} now fail the key check; the next `ecert issue` re-signs all {signed})[/]"
    )
    out.print(
        "接下来：ecert keys rotate（启用新密钥）→ ecert issue（重新签发）→ ecert keys jwks -o … 与 "
        "ecert status export -o …（重新发布公钥集与状态快照）。"
    )


def _moment(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise InputRefused(f"时间格式不正确：{text}", "use YYYY-MM-DD or an ISO 8601 time") from None
    if len(text) == 10:
        t = datetime.combine(t.date(), time(0, 0), CHINA)
    return t if t.tzinfo else t.replace(tzinfo=CHINA)


@main.command(epilog=example("ecert issue --cycle 7 --school 6540040001 --dry-run"))
@cycle_option
@click.option("--school", help="只签发该学校代码的教师 / only this school.")
@click.option("--teacher", help="只签发一名教师（证书编号或身份证号），可用于撤销后重新签发 / one teacher.")
@click.option("--final", is_flag=True, help="终审：合格者有效期延至 2029-12-31 / the final review.")
@as_of_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="只列出将签发、重新签发、未变化和拒绝的教师及原因，不签名、不写入（不需要密钥口令）/ "
    "list who would be issued, reissued, unchanged or refused, and why; sign and store nothing.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='与 --dry-run 同用：输出 JSON {"counts", "teachers"} / with --dry-run: the plan as JSON.',
)
@pass_context
def issue(
    ctx: Context,
    cycle: int | None,
    school: str | None,
    teacher: str | None,
    final: bool,
    as_of,
    dry_run: bool,
    as_json: bool,
) -> None:
    """批量签发或重新签发证书 · issue or reissue the certificates of every teacher in scope."""
    if as_json and not dry_run:
        raise InputRefused("--json 只用于 --dry-run", "--json goes with --dry-run")
    profile = ctx.profile(cycle)
    options = IssueOptions(
        final=final, as_of=as_of_date(as_of), school=known_school(ctx, school), teacher=teacher
    )
    issuer = Issuer(ctx.engine(), profile, ctx.keystore(), ctx.settings.base_url, ctx.settings.actor)
    issuer.check_options(options)
    # The keys first: a wrong or missing passphrase stops here, before any
    # sheet is computed or a bar shown (a dry run takes no key at all).
    signer = None if dry_run else issuer.open_keys()
    total = issuer.count(options)
    label = "预览 dry run" if dry_run else "签发证书"
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console(stderr=True), transient=False) as bar:
        task = bar.add_task("issue", total=total)

        def advance(n: int) -> None:
            bar.advance(task, n)

        if dry_run:
            preview = issuer.preview(options, progress=advance)
        else:
            summary = issuer.run(options, progress=advance, signer=signer)
    if not dry_run:
        print_issue_summary(console(), summary)
    elif as_json:
        click.echo(json.dumps(preview.to_json(), ensure_ascii=False, indent=2))
    else:
        print_preview(console(), preview)


@main.command(epilog=example("ecert show 6540040710000014 --history"))
@click.argument("number")
@click.option(
    "--json", "as_json", is_flag=True, help="docs/formats.md 的 JSON / the JSON of docs/formats.md."
)
@click.option("--history", "with_history", is_flag=True, help="列出全部版本 / every version.")
@pass_context
def show(ctx: Context, number: str, as_json: bool, with_history: bool) -> None:
    """现行证书 · the current certificate of NUMBER (its token and URL)."""
    with read_session(ctx.engine()) as session:
        cert = latest(session, number)
        versions = history(session, number) if with_history else []
    data = show_json(cert, ctx.settings.base_url)
    if as_json:
        if with_history:
            data["history"] = history_json(versions)
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    out = console()
    for k in ("number", "version", "status", "verdict", "valid_until", "check_code", "url"):
        out.print(f"{k:<12} {data[k]}", soft_wrap=True)
    if with_history:
        print_history(out, versions)


@main.command(epilog=example("ecert revoke 6540040710000014 --reason 重复登记"))
@click.argument("number")
@click.option("--reason", required=True, help="撤销原因（必填）/ why.")
@pass_context
def revoke(ctx: Context, number: str, reason: str) -> None:
    """撤销证书 · revoke the current certificate of NUMBER."""
    with write_session(ctx.engine()) as session:
        r = revoke_certificate(session, number, reason, ctx.settings.actor)
    console().print(f"证书 {r.number} 第 {r.version} 版已撤销：{reason}")


@main.command(epilog=example("ecert verify out/pdfs/6540040710000014.pdf --at 2027-01-01"))
@click.argument("input_")
@click.option("--at", type=date_type, default=None, help="按此日期查验（默认今天，北京时间）/ verify as of.")
@click.option("--json", "as_json", is_flag=True, help="docs/formats.md 的查验结果 JSON.")
@click.option("--offline", is_flag=True, help="离线查验：用 --jwks 与 --status 文件，不连数据库.")
@click.option("--jwks", type=click.Path(dir_okay=False, path_type=Path), help="公钥集文件 (ecert keys jwks).")
@click.option(
    "--status",
    "status_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="状态快照文件 (ecert status export).",
)
@pass_context
def verify(
    ctx: Context, input_: str, at, as_json: bool, offline: bool, jwks: Path | None, status_file: Path | None
) -> None:
    """查验证书 · verify INPUT: a token, a verification URL, a PDF or a QR image."""
    if names_a_missing_file(input_):
        raise InputRefused(
            f"找不到文件：{input_}",
            f"{input_}: no such file (INPUT may be a token, a URL, or the path of a PDF or an image)",
        )
    verifier = _offline_verifier(jwks, status_file) if offline else _online_verifier(ctx)
    day = at.date() if at else today_in_china()
    try:
        result = verifier.verify_input(input_, day)
    finally:
        verifier.close()
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print_verification(console(), result, day)
    if not result.valid:
        raise click.exceptions.Exit(NOT_VALID_EXIT)


def _online_verifier(ctx: Context) -> Verifier:
    engine = ctx.engine()
    return Verifier(KeySet.from_database(engine), DatabaseStatus(engine))


def _offline_verifier(jwks: Path | None, status_file: Path | None) -> Verifier:
    if jwks is None or status_file is None:
        raise InputRefused(
            "离线查验需要 --jwks 公钥集文件和 --status 状态快照文件",
            "--offline needs --jwks FILE and --status FILE",
        )
    try:
        keys = KeySet.from_jwks_file(jwks)
        return Verifier(keys, SnapshotStatus.load(status_file, keys))
    except (KeySetError, SnapshotError) as e:
        raise ConfigError(f"离线查验文件不可用：{e}", str(e)) from None


@main.group()
def status() -> None:
    """证书状态 · certificate status for offline verifiers."""


@status.command("export", epilog=example("ecert status export -o status.json"))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="写入的快照文件 / the snapshot file to write.",
)
@pass_context
def status_export(ctx: Context, output: Path) -> None:
    """导出签名的证书状态快照 · export a signed snapshot of every certificate's state."""
    profile = ctx.profile(None)
    with read_session(ctx.engine()) as session:
        signer = ctx.keystore().signer(session, profile.issuer_code)
        snapshot = build_snapshot(session, profile)
    write_snapshot(snapshot, signer, output)
    console().print(
        f"状态快照已写入 {output}（{len(snapshot['certificates'])} 个证书编号，密钥 {signer.kid_text}）"
    )


@main.group()
def audit() -> None:
    """审计日志 · the append-only audit log."""


@audit.command("verify")
@pass_context
def audit_verify(ctx: Context) -> None:
    """校验审计日志哈希链 · prove the audit log's hash chain unbroken."""
    with read_session(ctx.engine()) as session:
        report = verify_chain(session)
    if not report.ok:
        raise EcertError(
            f"审计日志哈希链断裂：{report.problem}",
            f"audit chain broken after {report.entries} good entries: {report.problem}",
        )
    console().print(f"审计日志完整：{report.entries} 条记录，哈希链无断裂")
