"""The subcommands of `ecert` for certificates: keys, issue, show, revoke,
revoke-batch, verify, status export, audit verify."""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from issuer.certificates import docsigning, fanout
from issuer.certificates.audit import verify_chain
from issuer.certificates.issuance import IssueOptions, Issuer
from issuer.certificates.keystore import open_document_key
from issuer.certificates.snapshot import STORED_AT, publish_snapshot, signed_snapshot, write_snapshot
from issuer.certificates.versions import history, history_json, latest, show_json, signed_by
from issuer.certificates.versions import revoke as revoke_certificate
from issuer.models import Certificate
from issuer.storage import storage_for
from verifier.clock import CHINA, as_utc, today_in_china
from verifier.inputs import names_a_missing_file
from verifier.keyset import KeySet, KeySetError
from verifier.status import DatabaseStatus, SnapshotError, SnapshotStatus
from verifier.verify import Verifier

from ..db import read_session, write_session
from ..errors import ConfigError, EcertError, InputRefused, NotFound
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

if TYPE_CHECKING:
    from issuer.office.revocations import Batch

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
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="计算与签名的进程数，默认每个 CPU 核一个 / processes computing and signing (default: one per core).",
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
    workers: int | None,
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
            summary = fanout.run(issuer, options, progress=advance, signer=signer, workers=workers)
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


MAX_REASON = 500  # as the office's batch and single revocations allow
BATCH_LISTED = 100  # certificates the confirmation lists (--dry-run lists every one)


@main.command(
    "revoke-batch",
    epilog=example(
        "ecert revoke-batch --job 12 --reason 误用测试数据 --dry-run",
        "ecert revoke-batch --school 6540040001 --issued-on 2026-12-01 --reason 名册导入错误",
        "ecert revoke-batch --job 12 --reason 误用测试数据 --yes 37   # 脚本：份数须恰为 37",
    ),
)
@click.option(
    "--job", type=click.IntRange(min=1), help="签发任务编号：撤销它签发且仍现行的证书 / an issue job."
)
@click.option("--school", help="学校代码（与 --issued-on 同用）/ a school code, with --issued-on.")
@click.option(
    "--issued-on",
    "issued_on",
    type=date_type,
    help="签发日期 YYYY-MM-DD（北京时间），与 --school 同用 / the issue day (China time).",
)
@click.option("--reason", required=True, help="撤销原因（必填，每份证书相同）/ why (required).")
@cycle_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="只列出将撤销的现行证书，不撤销 / list what would be revoked; revoke nothing.",
)
@click.option(
    "--yes",
    "yes",
    type=click.IntRange(min=0),
    metavar="N",
    help="不询问，直接撤销；N 须等于将撤销的份数，否则一份也不撤销 / "
    "revoke without asking, if exactly N certificates would be revoked.",
)
@pass_context
def revoke_batch(
    ctx: Context,
    job: int | None,
    school: str | None,
    issued_on: datetime | None,
    reason: str,
    cycle: int | None,
    dry_run: bool,
    yes: int | None,
) -> None:
    """批量撤销误发的证书 · revoke a batch issued in error, by job or by school and issue day.

    It lists the batch's certificates that are still current (a version
    since superseded or revoked is passed over), then asks for their number
    to be typed back; --yes N instead revokes only if there are exactly N.
    All are revoked in one transaction, one audit entry each, or none."""
    from issuer.office import jobs as jobs_lib
    from issuer.office import revocations
    from issuer.office.staff import Scope

    if job is not None and (school or issued_on):
        raise InputRefused(
            "--job 与 --school/--issued-on 只能选一种",
            "choose the batch by --job, or by --school with --issued-on, not both",
        )
    if job is None and not (school and issued_on):
        raise InputRefused(
            "请用 --job 指定签发任务，或用 --school 和 --issued-on 指定学校和签发日期",
            "choose the batch: --job ID, or --school CODE --issued-on YYYY-MM-DD",
        )
    if dry_run and yes is not None:
        raise InputRefused("--dry-run 不撤销，不能与 --yes 同用", "--dry-run revokes nothing: drop --yes")
    reason = " ".join(reason.split())
    if not reason:
        raise InputRefused("批量撤销必须写明原因（--reason）", "a revocation needs a reason")
    if len(reason) > MAX_REASON:
        raise InputRefused(
            f"撤销原因过长：{len(reason)} 字，最多 {MAX_REASON} 字",
            f"--reason is {len(reason)} characters long; at most {MAX_REASON}",
        )
    choice = revocations.Choice(job=job, school=school, day=issued_on.date() if issued_on else None)
    profile = ctx.profile(cycle)
    scope = Scope.command_line(ctx.settings.actor)
    with read_session(ctx.engine()) as session:
        batch = revocations.choose(session, profile, scope, choice)
        listed = batch.certificates if dry_run else batch.certificates[:BATCH_LISTED]
        names = jobs_lib.holder_names(session, [c.number for c in listed])
    n = len(batch.certificates)
    passed = f"（{batch.passed_over} 份之后已被新版本取代或已撤销）" if batch.passed_over else ""
    if n == 0:
        raise NotFound(
            f"{batch.label}中没有可撤销的现行证书{passed}：没有撤销任何证书",
            f"no current certificate in this batch ({batch.passed_over} since superseded or revoked); "
            "nothing revoked",
        )
    out = console()
    _print_batch(out, batch, listed, names, reason)
    if dry_run:
        out.print(f"预览：未撤销任何证书  [dim](dry run: nothing revoked; {n} would be)[/]")
        return
    if yes is None:
        try:
            typed = click.prompt(
                f"撤销后查验即显示“已撤销”，不能恢复。请输入将撤销的份数 {n} 以确认 / type {n} to revoke",
                default="",
                show_default=False,
                err=True,
            )
        except click.Abort:
            typed = ""
        if typed.strip() != str(n):
            raise InputRefused(
                f"未确认（应输入 {n}）：没有撤销任何证书", f"not confirmed (type {n}): nothing revoked"
            )
    elif yes != n:
        raise InputRefused(
            f"--yes {yes} 与将撤销的份数 {n} 不符：没有撤销任何证书",
            f"--yes {yes}, but {n} certificates would be revoked: nothing revoked",
        )
    try:
        with write_session(ctx.engine()) as session:
            done = revocations.revoke(session, profile, scope, choice, reason, n)
    except revocations.Changed as e:
        raise InputRefused(
            f"核对之后证书有变化：现在是 {e.now} 份，不是 {n} 份。没有撤销任何证书，请重新核对。",
            f"the batch changed since it was listed ({e.now} now, not {n}): nothing revoked",
        ) from None
    out.print(
        f"已撤销 {len(done)} 份证书，原因：{escape(reason)}（每份一条审计日志）"
        f"  [dim](revoked {len(done)} certificates, one audit entry each)[/]"
    )


def _print_batch(
    out: Console, batch: Batch, listed: list[Certificate], names: dict[str, str], reason: str
) -> None:
    n = len(batch.certificates)
    out.print(f"范围：{escape(batch.label)}")
    out.print(f"撤销原因：{escape(reason)}")
    out.print(f"将撤销 {n} 份现行证书  [dim]({n} current certificates would be revoked)[/]")
    if batch.passed_over:
        out.print(
            f"不再撤销 {batch.passed_over} 份（之后已被新版本取代或已撤销）"
            f"  [dim]({batch.passed_over} since superseded or revoked: left as they are)[/]"
        )
    table = Table("证书编号", "姓名", "版本", "签发时间（北京时间）")
    for c in listed:
        table.add_row(
            c.number,
            escape(names.get(c.number, "")),
            str(c.version),
            as_utc(c.issued_at).astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)
    if len(listed) < n:
        more = n - len(listed)
        out.print(
            f"  ……另有 {more} 份未列出；--dry-run 列出全部  [dim](and {more} more; --dry-run lists all)[/]"
        )


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


@status.command(
    "export",
    epilog=example("ecert status export --publish   # every few minutes, from cron or a timer"),
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="写入的快照文件 / the snapshot file to write.",
)
@click.option(
    "--publish",
    is_flag=True,
    help="存入共享存储（ECERT_STORAGE），由各网页服务在 /.well-known/status-snapshot.json 提供 / "
    "into the shared store, served by every web server at /.well-known/status-snapshot.json.",
)
@pass_context
def status_export(ctx: Context, output: Path | None, publish: bool) -> None:
    """导出签名的证书状态快照 · export a signed snapshot of every certificate's state."""
    if output is None and not publish:
        raise click.UsageError("请用 -o 指定文件，或用 --publish 存入共享存储 / give -o FILE, or --publish")
    profile = ctx.profile(None)
    engine = ctx.engine()
    with ExitStack() as temporary:
        with read_session(engine) as session:  # read whole and closed before anything is written
            signer = ctx.keystore().signer(session, profile.issuer_code)
            snapshot = temporary.enter_context(signed_snapshot(session, profile, signer))
        where = []
        if output is not None:
            write_snapshot(snapshot, output)
            where.append(str(output))
        if publish:
            store = storage_for(ctx.settings, engine)
            publish_snapshot(snapshot, store)
            where.append(store.describe(STORED_AT))
    console().print(
        f"状态快照已写入 {'、'.join(where)}（{snapshot.numbers} 个证书编号，密钥 {snapshot.kid}）"
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
