"""The verification engine: the checks of docs/formats.md, in order, each
with a Chinese message for the committee and an English detail.

    format → signature → key → status → validity → credits

A check that cannot run because an earlier one failed is reported as not
run (ok false). `valid` is true only when every check is ok. `outcome`
says in one word what the checks found (valid, superseded, revoked,
expired, not_valid): a genuine certificate since updated is `superseded`,
never the red "not valid" a forgery gets.

The status check binds the token to the register: the register keeps the
SHA-256 of every token it issued, and a token whose digest is not the one
issued for its number and version was not issued by the register, however
good its signature (a leaked key signs as well as the bureau).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TypedDict, TypeVar

from verifier.clock import CHINA, today_in_china
from verifier.inputs import input_file, is_pdf, token_from_bytes, token_from_text
from verifier.keyset import KeySet, PublicKey
from verifier.pdfsignature import check_pdf
from verifier.profiles import NoProfile, RulesProfile, profile_for_cycle
from verifier.reading import Reading, ReadingJSON, bucket_amounts, read_credits
from verifier.requirements import check_minimums, prorate
from verifier.status import NumberStatus, StatusSource
from verifier.summary import SheetSummary
from verifier.token import (
    VERDICT_VALUES,
    Claims,
    ParsedToken,
    TokenError,
    b64u,
    parse,
    token_digest,
    verify_signature,
)
from verifier.vocab import AGGREGATES, BUCKETS, LEAF_BUCKETS, Outcome, Verdict

CHECKS = ("format", "signature", "key", "status", "validity", "credits")
PDF_CHECK = "pdf"  # after CHECKS, for a PDF only: its own signature (verifier/pdfsignature.py)
HUNDRED = Decimal(100)
# What the status check found of the token in the register: `issued` (its
# digest is the one issued for its version, which is current), superseded,
# revoked; `unknown` (no such number or version), `forged` (a digest the
# register never issued).
BOUND = ("issued", "superseded", "revoked")
_Input = TypeVar("_Input")


# The verification JSON (docs/formats.md, "Verification result").
class CheckJSON(TypedDict):
    name: str
    ok: bool
    message: str
    detail: str


class CurrentJSON(TypedDict):
    version: int
    issued_at: str | None
    status: str | None
    valid_until: str | None
    total: str


class IssuerJSON(TypedDict):
    code: str
    name: str | None
    kid: str


class CertificateJSON(TypedDict):
    number: str
    printed_number: str
    version: int
    holder: str
    id_masked: str
    school: str
    cycle: int
    status: str
    credits: dict[str, str]
    years: dict[str, str]
    issued_at: str
    valid_until: str
    issuer: IssuerJSON


class ResultJSON(TypedDict):
    valid: bool
    outcome: str
    checks: list[CheckJSON]
    certificate: CertificateJSON | None
    current: CurrentJSON | None
    reading: ReadingJSON | None


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str
    detail: str
    ran: bool = True  # False: not run because an earlier check failed

    def to_json(self) -> CheckJSON:
        return {"name": self.name, "ok": self.ok, "message": self.message, "detail": self.detail}


@dataclass(frozen=True)
class Result:
    """A verification, whole and unchangeable: the checks, what the token says
    and what the register says of it, and everything read from them (the
    outcome, the certificate, the current version, the credits' reading with
    a late joiner's share and the years). The page, the JSON, the CLI and the
    PDF only render it. `certificate`, `reading` and `current` are worked out
    when first asked for (the verdict does not need them), then kept."""

    checks: tuple[Check, ...]
    token: ParsedToken | None = None
    # The published rules of the token's cycle, if any (None when the format check failed).
    profile: RulesProfile | None = None
    register: NumberStatus | None = None
    standing: str = ""
    status_note: str = ""  # where the status came from, when a reader should know

    @property
    def claims(self) -> Claims | None:
        return self.token.claims if self.token else None

    @cached_property
    def certificate(self) -> CertificateJSON | None:
        return _certificate(self.token, self.profile) if self.token else None

    @property
    def valid(self) -> bool:
        return len(self.checks) >= len(CHECKS) and all(c.ok for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if not c.ok), None)

    @property
    def pdf_intact(self) -> bool:
        """No "pdf" check (the input was no PDF), or it passed: a page
        changed after signing is not what the bureau issued."""
        return all(c.ok for c in self.checks[len(CHECKS) :])

    @property
    def genuine(self) -> bool:
        """Signed by a good key of the bureau and issued by its register."""
        return self.standing in BOUND and all(c.ok for c in self.checks[:3])

    @cached_property
    def outcome(self) -> Outcome:
        """What the verification concludes (docs/formats.md, "Verification result")."""
        if not self.genuine or not self.check("credits").ok or not self.pdf_intact:
            return Outcome.NOT_VALID
        if self.standing == "revoked":
            return Outcome.REVOKED
        if self.standing == "superseded":
            assert self.register is not None  # the status check found it superseded in the register
            # a version superseded by one since revoked: the number stands revoked
            return Outcome.REVOKED if self.register.current is None else Outcome.SUPERSEDED
        return Outcome.VALID if self.check("validity").ok else Outcome.EXPIRED

    @cached_property
    def current(self) -> CurrentJSON | None:
        """The current version of a superseded one: what it certifies now."""
        if self.outcome != "superseded":
            return None
        # outcome superseded: the register has the token's number, with a current version
        assert self.register is not None and self.register.current is not None
        n = self.register.current
        v = self.register.of(n)
        assert v is not None
        return {
            "version": n,
            "issued_at": v.issued_at.astimezone(CHINA).isoformat() if v.issued_at else None,
            "status": Verdict(v.verdict).code if v.verdict in VERDICT_VALUES else None,
            "valid_until": v.valid_until.isoformat() if v.valid_until else None,
            "total": f"{Decimal(v.total) / HUNDRED:.2f}",
        }

    @cached_property
    def summary(self) -> SheetSummary | None:
        """The register's summary of this version, for a token bound to it
        (online the stored sheet summary, offline the snapshot's compact one)."""
        details = self.register.details if self.register is not None else None
        if not self.genuine or details is None:
            return None
        return details.sheet(self.profile.first_year if self.profile else 1)

    @cached_property
    def reading(self) -> Reading | None:
        """The credits against the rules, for a genuine token only: what a
        token the register did not issue claims (a forgery with a leaked
        key, say) is not read against the rules as if it were certified."""
        if self.token is None or not self.genuine:
            return None
        return read_credits(self.token.claims, self.profile, self.summary, self.share)

    @cached_property
    def share(self) -> tuple[int, int] | None:
        """(k, n) when a qualified late joiner's totals meet the minimums
        prorated for k of the cycle's n years (the credits check's reading)."""
        c, p = self.claims, self.profile
        if p is None or c is None or c.status != 1 or not self.check("credits").ok:
            return None
        k, _ = qualifying_share(c, p)
        return (k, len(p.years)) if 0 < k < len(p.years) else None

    def to_json(self) -> ResultJSON:
        reading = self.reading
        return {
            "valid": self.valid,
            "outcome": self.outcome,
            "checks": [c.to_json() for c in self.checks],
            "certificate": self.certificate,
            "current": self.current,
            "reading": reading.to_json() if reading else None,
        }


def cents(n: int) -> Decimal:
    return Decimal(n) / HUNDRED


def amount(d: Decimal) -> str:
    return f"{d:.2f}"


class Verifier:
    """Checks tokens against a key set and a status source (online: the
    database; offline: a JWKS file and a signed status snapshot)."""

    def __init__(self, keys: KeySet, status: StatusSource) -> None:
        self.keys, self.status = keys, status

    def close(self) -> None:
        """Give back the status source's connection, if it holds one."""
        getattr(self.status, "close", lambda: None)()

    def verify_input(self, value: str, at: date | None = None) -> Result:
        """INPUT as the CLI takes it: a token, a URL, or a file's path.
        Never for web input: it reads files."""
        try:
            data = input_file(value)
        except TokenError as e:
            return format_failed(e.message, e.detail)
        if data is not None:
            return self.verify_bytes(data, Path(value).name, at)
        return self._verify_from(token_from_text, value, at)

    def verify_text(self, text: str, at: date | None = None) -> Result:
        """A token or a verification URL, as typed or pasted."""
        return self._verify_from(token_from_text, text, at)

    def verify_bytes(self, data: bytes, name: str, at: date | None = None) -> Result:
        """An uploaded file: a PDF, a photo of the QR code, or text. A PDF's
        own signature is checked too (the "pdf" check, after the others)."""
        result = self._verify_from(lambda d: token_from_bytes(d, name), data, at)
        if not is_pdf(data) or result.token is None:
            return result
        finding = check_pdf(data, self.keys.pdf_certificates())
        return replace(result, checks=(*result.checks, Check(PDF_CHECK, *finding)))

    def _verify_from(self, extract: Callable[[_Input], bytes], value: _Input, at: date | None) -> Result:
        try:
            raw = extract(value)
        except TokenError as e:
            return format_failed(e.message, e.detail)
        return self.verify_raw(raw, at)

    def verify_raw(self, raw: bytes, at: date | None = None) -> Result:
        try:
            token = parse(raw)
        except TokenError as e:
            return format_failed(e.message, e.detail)
        return self._verify(token, at or today_in_china())

    def _verify(self, token: ParsedToken, at: date) -> Result:
        c = token.claims
        profile = _profile(c.issuer, c.cycle)
        checks = [
            Check(
                "format",
                True,
                "证书数据格式正确",
                f"COSE_Sign1/EdDSA token with the claims of docs/formats.md; number {c.number} "
                "has a good check character",
            )
        ]
        key = self.keys.get(token.kid)
        checks.append(_signature(token, key))
        register, standing = None, ""
        if key is not None and checks[-1].ok:  # (the signature check fails without a key)
            status, register, standing = self._status(token)
            checks += [_key(token, key), status, _validity(token, at), _credits(token, profile)]
        else:
            # An unknown kid is the key check's own finding ("known", docs/formats.md),
            # not a check skipped: say so there too.
            checks.append(_unknown_key(token) if key is None else _not_run("key", "signature"))
            checks += [_not_run(n, "signature") for n in CHECKS[3:]]
        return Result(
            tuple(checks),
            token,
            profile,
            register,
            standing,
            getattr(self.status, "note", "") if register is not None or standing else "",
        )

    def _status(self, token: ParsedToken) -> tuple[Check, NumberStatus | None, str]:
        """The status check, what the register holds of the number, and the
        token's standing there (BOUND, or unknown / forged)."""
        c = token.claims
        info = self.status.lookup(c.number, c.version)
        where = self.status.description
        if info is None:
            return (
                Check(
                    "status",
                    False,
                    "登记系统中查无此证书",
                    f"number {c.number} is not in the register ({where})",
                ),
                None,
                "unknown",
            )
        state = info.of(c.version)
        if state is None:
            return (
                Check(
                    "status",
                    False,
                    "登记系统中查无此证书版本",
                    f"version {c.version} of {c.number} is not in the register; "
                    f"latest is {info.latest} ({where})",
                ),
                info,
                "unknown",
            )
        if not state.issued(token_digest(token.raw)):
            return (
                Check(
                    "status",
                    False,
                    "证书不是登记系统签发的：内容与登记的同一版本不符，可能是伪造的",
                    f"not issued by the register: the token's SHA-256 is not the one the register "
                    f"issued for version {c.version} of {c.number} ({where})",
                ),
                info,
                "forged",
            )
        when = _day(state.changed_at)
        if state.state == "revoked":
            return (
                Check(
                    "status",
                    False,
                    f"证书已被撤销（{when}：{state.reason or '未说明原因'}）",
                    f"revoked on {when}: {state.reason or 'no reason given'} ({where})",
                ),
                info,
                "revoked",
            )
        if state.state == "superseded":
            if info.current is None:
                last = info.of(info.latest)
                assert last is not None  # the latest of the versions, of which the token's is one
                return (
                    Check(
                        "status",
                        False,
                        f"证书已被新版本取代，最新的第 {info.latest} 版已于 {_day(last.changed_at)} 撤销："
                        f"{last.reason or '未说明原因'}",
                        f"superseded by version {info.latest} on {when}, which was revoked on "
                        f"{_day(last.changed_at)}: {last.reason or 'no reason given'} ({where})",
                    ),
                    info,
                    "superseded",
                )
            return (
                Check(
                    "status",
                    False,
                    f"证书已更新：已于 {when} 被第 {info.current} 版取代",
                    f"superseded by version {info.current} on {when} ({where})",
                ),
                info,
                "superseded",
            )
        return (
            Check(
                "status",
                True,
                f"证书为现行版本（第 {c.version} 版），与登记一致",
                f"current version {c.version}, the token the register issued ({where})",
            ),
            info,
            "issued",
        )


def _day(t: datetime | None) -> str:
    return t.astimezone(CHINA).date().isoformat() if t else "?"


def format_failed(message: str, detail: str) -> Result:
    """The result for input that is not a token of ours: the format check
    failed, nothing else ran."""
    return Result((Check("format", False, message, detail), *(_not_run(n, "format") for n in CHECKS[1:])))


CHECK_LABELS = {
    "format": "格式",
    "signature": "签名",
    "key": "签名密钥",
    "status": "登记状态",
    "validity": "有效期",
    "credits": "学分",
}


def _not_run(name: str, because: str) -> Check:
    return Check(
        name,
        False,
        f"{CHECK_LABELS[name]}：未检查（{CHECK_LABELS[because]}未通过）",
        f"not run: the {because} check failed",
        ran=False,
    )


def _profile(issuer: str, cycle: int) -> RulesProfile | None:
    try:
        return profile_for_cycle(cycle, issuer)
    except NoProfile:  # a broken profile file is not "no published rules": it propagates
        return None


def _signature(token: ParsedToken, key: PublicKey | None) -> Check:
    kid = b64u(token.kid)
    if key is None:
        return Check(
            "signature",
            False,
            "签名密钥未知：不是本机关公布的密钥签发的证书",
            f"no published key has kid {kid}; the signature cannot be checked",
        )
    if not verify_signature(token, key.verifying_key):
        return Check(
            "signature",
            False,
            "签名无效：证书内容被篡改或并非本机关签发",
            f"the Ed25519 signature does not verify under key {kid}",
        )
    return Check("signature", True, "签名有效", f"Ed25519 signature verifies under key {kid}")


def _unknown_key(token: ParsedToken) -> Check:
    return Check(
        "key",
        False,
        "签名密钥未知：不在本机关公布的密钥中",
        f"kid {b64u(token.kid)} is not among the published keys of bureau {token.claims.issuer}",
    )


def _key(token: ParsedToken, key: PublicKey) -> Check:
    iat = token.claims.issued_at
    if key.issuer != token.claims.issuer:
        return Check(
            "key",
            False,
            "签名密钥不属于该签发机关",
            f"key {key.kid} belongs to {key.issuer}, the token says {token.claims.issuer}",
        )
    if key.compromised_at is not None and key.compromised_at <= iat:
        return Check(
            "key",
            False,
            "签名密钥已泄露作废，此后签发的证书无效",
            f"key {key.kid} was compromised as of {key.compromised_at.astimezone(CHINA).isoformat()}; "
            f"the token was issued at {iat.isoformat()}",
        )
    if iat < key.not_before or (key.not_after is not None and iat > key.not_after):
        until = key.not_after.astimezone(CHINA).isoformat() if key.not_after else "now"
        return Check(
            "key",
            False,
            "证书签发时间不在签名密钥的使用期内",
            f"issued at {iat.isoformat()}, outside key {key.kid}'s use window "
            f"{key.not_before.astimezone(CHINA).isoformat()} .. {until}",
        )
    return Check(
        "key",
        True,
        "签名密钥有效",
        f"key {key.kid} of bureau {key.issuer} ({key.status}), in use at the issue time, not compromised",
    )


def _validity(token: ParsedToken, at: date) -> Check:
    c = token.claims
    until, issued = c.valid_until, c.issued_at.date()
    if at > until:
        return Check(
            "validity",
            False,
            f"证书已过有效期（有效期至 {until}）",
            f"on {at} the certificate had expired: valid until {until}",
        )
    if at < issued:  # docs/formats.md asks only for on or before valid_until; the date is worth saying
        return Check(
            "validity",
            True,
            f"在有效期内（有效期至 {until}；所查日期早于本版签发日期 {issued}）",
            f"on {at}: valid until {until}; note that this version was issued on {issued}",
        )
    return Check("validity", True, f"在有效期内（有效期至 {until}）", f"on {at}: valid until {until}")


def _credits(token: ParsedToken, profile: RulesProfile | None) -> Check:
    c = token.claims
    leaves, total = c.credits[:7], c.credits[7]
    if sum(leaves) != total:
        return Check(
            "credits",
            False,
            "各类学分之和与总学分不符",
            f"buckets add up to {amount(cents(sum(leaves)))}, total says {amount(cents(total))}",
        )
    if sum(c.years) != total:
        return Check(
            "credits",
            False,
            "各年度学分之和与总学分不符",
            f"years add up to {amount(cents(sum(c.years)))}, total says {amount(cents(total))}",
        )
    # docs/formats.md holds the buckets to the cycle's profile only when the status
    # says qualified: a certificate in progress or not qualified claims no minimum.
    if c.status != 1:
        return Check(
            "credits",
            True,
            f"学分合计一致（结论：{Verdict(c.status).label}）",
            f"parts add up to the total {amount(cents(total))}; status "
            f"{c.status_name}, so the minimums are not claimed",
        )
    if profile is None:
        return Check(
            "credits",
            False,
            "证书标为合格，但未找到该周期公布的学分规则",
            f"status says qualified and there is no published rules profile for cycle "
            f"{c.cycle} of bureau {c.issuer}",
        )
    if len(c.years) != len(profile.years):
        return Check(
            "credits",
            False,
            "证书标为合格，但年度学分项数与本周期不符",
            f"{len(c.years)} years in the token, cycle {c.cycle} has {len(profile.years)}",
        )
    return _meets_profile(c, profile)


def _meets_profile(c: Claims, profile: RulesProfile) -> Check:
    buckets = bucket_amounts(c.credits)
    n = len(profile.years)
    k, unmet = qualifying_share(c, profile)
    if k == n:
        return Check(
            "credits",
            True,
            "学分合计一致，达到本周期合格要求",
            f"parts add up to {amount(buckets['total'])} and meet profile {profile.id}",
        )
    if k:
        assert profile.late_joiners is not None  # qualifying_share: only its rule gives 0 < k < n
        return Check(
            "credits",
            True,
            f"学分合计一致，达到周期内入职教师按 {k}/{n} 折算的合格要求",
            f"parts add up to {amount(buckets['total'])}; the full minimums of "
            f"{profile.id} are not met ({', '.join(unmet)}), the minimums prorated "
            f"for {k} of {n} years served (rule {profile.late_joiners.rule}) are; the token "
            "does not carry the years served",
        )
    labels = "、".join(profile.bucket_label(b) for b in unmet)
    return Check(
        "credits",
        False,
        f"证书标为合格，但学分未达到本周期要求：{labels}",
        f"status says qualified but {', '.join(unmet)} below the minimums of {profile.id}",
    )


def qualifying_share(c: Claims, profile: RulesProfile) -> tuple[int, list[str]]:
    """(k, unmet): the token's totals meet the minimums of k of the cycle's n
    years (n: the full minimums; 0: none), and which full minimums they miss.

    A teacher who joined during the cycle owes prorated minimums, and the
    token does not say her years of service. The largest share the totals
    meet is accepted if the years agree with it: with k full years served
    she was hired in year n-k, so every earlier year shows no credits
    (pre-service records register nothing)."""
    buckets = bucket_amounts(c.credits)
    _, unmet = check_minimums(buckets, profile.minimums, profile.offset)
    n = len(profile.years)
    if not unmet:
        return n, []
    lj = profile.late_joiners
    if lj is not None:
        for k in range(n - 1, lj.min_years - 1, -1):
            if (
                not any(c.years[: n - k - 1])
                and not check_minimums(buckets, prorate(profile.minimums, k, n), profile.offset)[1]
            ):
                return k, unmet
    return 0, unmet


# Each bucket of the JSON's "credits", in BUCKETS order, as the position of
# the leaf in the token's credits array, or the positions of the leaves an
# aggregate adds up (bucket_amounts' sums).
_BUCKET_SLOTS: tuple[tuple[str, int | tuple[int, ...]], ...] = tuple(
    (b, LEAF_BUCKETS.index(b) if b in LEAF_BUCKETS else tuple(LEAF_BUCKETS.index(p) for p in AGGREGATES[b]))
    for b in BUCKETS
)


def _hundredths(v: int) -> str:
    """amount(cents(v)) for the token's unsigned integers, without Decimal
    (the JSON of every verification formats 16 of them)."""
    return "%d.%02d" % divmod(v, 100) if v >= 0 else amount(cents(v))  # noqa: UP031 (a third faster)


def _bucket_texts(credits: tuple[int, ...]) -> dict[str, str]:
    out = {}
    for name, at in _BUCKET_SLOTS:
        out[name] = _hundredths(credits[at] if isinstance(at, int) else sum(map(credits.__getitem__, at)))
    return out


def _printed(number: str) -> str:
    """CertificateNumber.parse(number).printed for a number parse() has
    already checked (sub is the 16-character compact form)."""
    return f"{number[:6]}-{number[6:8]}-{number[8]}-{number[9:15]}-{number[15]}"


def _certificate(token: ParsedToken, profile: RulesProfile | None) -> CertificateJSON:
    c = token.claims
    first = profile.first_year if profile else None
    years = {str(first + i) if first else str(i + 1): _hundredths(v) for i, v in enumerate(c.years)}
    return {
        "number": c.number,
        "printed_number": _printed(c.number),
        "version": c.version,
        "holder": c.holder,
        "id_masked": c.id_masked,
        "school": c.school,
        "cycle": c.cycle,
        "status": c.status_name,
        "credits": _bucket_texts(c.credits),
        "years": years,
        "issued_at": c.issued_at.isoformat(),
        "valid_until": c.valid_until.isoformat(),
        "issuer": {
            "code": c.issuer,
            "name": profile.issuer_name if profile else None,
            "kid": b64u(token.kid),
        },
    }
