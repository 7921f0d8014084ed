"""Looking a certificate up by its number, for a paper copy whose QR code
is damaged: the newest version in the register, and its 查验码. Only the
register has them: a verifier on the status snapshot alone answers
`needs_register`."""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Engine, select

from verifier import schema
from verifier.numbers import CertificateNumber, NumberFormatError


@dataclass(frozen=True)
class Entry:
    number: str
    version: int
    state: str
    token: str
    check_code: str


def newest(engine: Engine, number: str) -> Entry | None:
    """The current version, or the newest if none is current."""
    t = schema.certificates
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.version, t.c.state, t.c.token, t.c.check_code)
            .where(t.c.number == number)
            .order_by(t.c.version.desc())
        ).all()
    if not rows:
        return None
    row = next((r for r in rows if r.state == "current"), rows[0])
    return Entry(number, row.version, row.state, row.token, row.check_code)


# What people type for a 查验码 (GB 32100's alphabet has no I, O, S, V or Z):
# spaces, dashes (a Chinese input method's too), dots and underscores between
# the printed groups of four, full-width forms, lower case, O for 0, I for 1.
_CODE_READS = str.maketrans(
    {"O": "0", "I": "1", **dict.fromkeys(" -_.·\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fb")}
)


def normalise_code(code: str) -> str:
    """A typed 查验码 as the register keeps it."""
    return unicodedata.normalize("NFKC", code).upper().translate(_CODE_READS)


def group_code(code: str) -> str:
    """A 查验码 as printed: groups of four ("ABCD EFGH JKLM")."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


def code_matches(entry: Entry, code: str) -> bool:
    """As normalise_code reads it, in constant time."""
    return hmac.compare_digest(entry.check_code.encode(), normalise_code(code).encode())


class Refused(LookupError):
    """A lookup by number (and 查验码) that finds nothing to show: `status`
    is what a page answers (400 a malformed number, 404 an unknown one, 403
    a wrong code), `message` Chinese for a person, `detail` English."""

    def __init__(self, status: int, message: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.message, self.detail = status, message, detail


def find(engine: Engine, no: str) -> Entry:
    """The newest version of the number typed (printed or compact form,
    full-width digits and spaces read as ASCII), or Refused: a number whose
    check character is wrong is refused before anything looks it up."""
    try:
        number = CertificateNumber.parse(no).compact
    except NumberFormatError as e:
        raise Refused(400, "证书编号无效（校验位不符或位数不对）", f"bad certificate number: {e}") from None
    entry = newest(engine, number)
    if entry is None:
        raise Refused(404, "查无此证书编号", f"number {number} is not in the register")
    return entry


NEEDS_REGISTER = (
    "按证书编号与查验码查验需要联机的证书登记系统：本查验服务只依据签名的状态快照（其中没有查验码和证书内容）。"
    "请扫描证书上的二维码、上传 PDF 证书，或使用证书上的查验网址"
)


def needs_register(number: str) -> Refused:
    """A number and 查验码 where the verifier runs on the status snapshot:
    the snapshot holds neither the codes nor the tokens (docs/formats.md)."""
    return Refused(
        501,
        NEEDS_REGISTER,
        f"lookup of {number[:40]} by number and verification code needs the online register: this "
        "verifier serves from the signed status snapshot, which holds no codes and no tokens; "
        "verify the certificate's QR code, URL or PDF instead",
    )


def unlock(entry: Entry, code: str) -> Entry:
    """The entry, if `code` is its 查验码 (read forgivingly); else Refused
    (403), saying how the code was read."""
    if code_matches(entry, code):
        return entry
    read = normalise_code(code)
    why = "查验码不正确" if len(read) == len(entry.check_code) else f"查验码应为 {len(entry.check_code)} 位"
    raise Refused(
        403,
        f"{why}（已读作 {group_code(read) or '空'}，共 {len(read)} 位）",
        f"wrong verification code for {entry.number} (read as {len(read)} characters)",
    )


def mask_name(name: str) -> str:
    """The surname only: a name's first character (for a name with a middle
    dot, the first character of its first part), the rest starred."""
    name = name.strip()
    return name[:1] + "＊" * max(len(name.replace("·", "")) - 1, 1)
