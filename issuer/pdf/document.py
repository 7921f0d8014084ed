"""What a certificate PDF says, taken from the signed token (so the page
shows exactly what a verifier will see) and the sheet summary stored with it
at issue (each year's parts, the minimums that applied)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from verifier.clock import CHINA
from verifier.numbers import CertificateNumber
from verifier.profiles import RulesProfile
from verifier.token import STATUS_LABELS, from_base32, parse
from verifier.verify import amount, bucket_amounts
from verifier.vocab import BUCKET_LABELS, BUCKETS

from ..qr import verification_url

YEAR_STATUS = {"met": "达标", "short": "未达", "not-required": "不作要求", "not-yet": "进行中"}
STATE_LABELS = {"current": "现行有效", "superseded": "已被新版本取代", "revoked": "已撤销"}


@dataclass(frozen=True)
class BucketRow:
    label: str
    amount: str
    minimum: str
    met: bool
    aggregate: bool


@dataclass(frozen=True)
class YearRow:
    year: int
    total: str
    required: str
    elective: str
    school_based: str
    status: str


@dataclass(frozen=True)
class CertificateView:
    number: str
    printed_number: str
    version: int
    state: str
    bureau_name: str
    bureau_code: str
    holder: str
    id_masked: str
    school: str
    cycle: int
    cycle_years: str
    buckets: tuple[BucketRow, ...]
    years: tuple[YearRow, ...]
    yearly_rule: str
    verdict: str
    status: int
    issued_on: str
    valid_until: str
    url: str
    lookup_url: str
    check_code: str
    qr_svg: str
    notes: tuple[str, ...]

    def content_hash(self) -> str:
        """Changes whenever anything printed changes (with the template's
        and fonts' digests, the render cache's key)."""
        return hashlib.sha256(json.dumps(self.__dict__, ensure_ascii=False, default=str).encode()).hexdigest()


def view(cert, profile: RulesProfile, base_url: str) -> CertificateView:
    """cert: an issuer.models.Certificate row."""
    claims = parse(from_base32(cert.token)).claims
    summary = json.loads(cert.summary)
    amounts = bucket_amounts(claims.credits)
    minimums = {b: Decimal(m) for b, m in summary["minimums"].items()}
    url = verification_url(base_url, cert.token)
    return CertificateView(
        number=claims.number, printed_number=CertificateNumber.parse(claims.number).printed,
        version=claims.version, state=STATE_LABELS.get(cert.state, cert.state),
        bureau_name=profile.issuer_name, bureau_code=claims.issuer, holder=claims.holder,
        id_masked=claims.id_masked, school=claims.school, cycle=claims.cycle,
        cycle_years=f"{profile.first_year}—{profile.last_year}",
        buckets=tuple(_bucket_row(b, amounts[b], minimums.get(b)) for b in BUCKETS),
        years=tuple(_year_row(y) for y in summary["years"]),
        yearly_rule=_yearly_rule(profile),
        verdict=STATUS_LABELS[claims.status], status=claims.status,
        issued_on=claims.issued_at.astimezone(CHINA).date().isoformat(),
        valid_until=claims.valid_until.isoformat(), url=url,
        lookup_url=f"{base_url.lower()}/verify", check_code=cert.check_code,
        qr_svg=qr_svg(url), notes=tuple(summary.get("notes", ())))


def _bucket_row(bucket: str, value: Decimal, minimum: Decimal | None) -> BucketRow:
    return BucketRow(BUCKET_LABELS[bucket], amount(value), amount(minimum) if minimum is not None else "—",
                     minimum is None or value >= minimum, bucket in ("prefecture", "county", "required", "total"))


def _year_row(y: dict) -> YearRow:
    return YearRow(y["year"], y["total"], y["required"], y["elective"], y["school_based"],
                   YEAR_STATUS.get(y["status"], y["status"]))


def _yearly_rule(profile: RulesProfile) -> str:
    if profile.yearly is None:
        return ""
    m = profile.yearly.minimums
    parts = [f"{BUCKET_LABELS[b]} {amount(v)}" for b, v in m.items()]
    return "年度原则要求：" + "，".join(parts)


QR_SIZE_MM = 40  # version 13 with its quiet zone: 0.52 mm a module, safe at 300 dpi
QUIET_ZONE = 4


def qr_svg(url: str, size_mm: int = QR_SIZE_MM) -> str:
    """The QR code as vector SVG: alphanumeric mode, level M, the standard
    4-module quiet zone, drawn size_mm square. Each row's dark modules are
    drawn as runs, each run one stroke a module wide (two path commands):
    a path of filled single modules cost WeasyPrint, which parses SVG paths
    in Python, about a third of the whole page's time."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    qr.add_data(qrcode.util.QRData(url, mode=qrcode.util.MODE_ALPHA_NUM))
    qr.make(fit=True)
    rows = qr.get_matrix()
    n = len(rows) + 2 * QUIET_ZONE
    path = []
    for y, row in enumerate(rows, start=QUIET_ZONE):
        x = 0
        while x < len(row):
            if row[x]:
                end = x
                while end < len(row) and row[end]:
                    end += 1
                path.append(f"M{x + QUIET_ZONE} {y}.5h{end - x}")
                x = end
            else:
                x += 1
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_mm}mm" height="{size_mm}mm" '
            f'viewBox="0 0 {n} {n}" shape-rendering="crispEdges"><rect width="{n}" height="{n}" fill="#fff"/>'
            f'<path d="{"".join(path)}" stroke="#000" stroke-width="1" fill="none"/></svg>')
