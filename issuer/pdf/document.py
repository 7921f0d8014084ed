"""What a certificate PDF says, taken from the signed token (so the page
shows exactly what a verifier will see) and the sheet summary stored with it
at issue (each year's parts, the minimums that applied)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

import zxingcpp

from verifier.clock import CHINA
from verifier.numbers import CertificateNumber
from verifier.profiles import RulesProfile
from verifier.requirements import yearly_rule_text
from verifier.token import STATUS_LABELS, from_base32, parse
from verifier.verify import amount, bucket_amounts
from verifier.vocab import BUCKET_LABELS, BUCKETS

from ..qr import verification_url

# printed on a certificate that stays current until its totals change: "not yet" means at issue
YEAR_STATUS = {"met": "达标", "short": "未达", "not-required": "不作要求", "not-yet": "签发时未结束"}
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
    qr: tuple[tuple[bool, ...], ...]
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
        yearly_rule=yearly_rule_text(profile),
        verdict=STATUS_LABELS[claims.status], status=claims.status,
        issued_on=claims.issued_at.astimezone(CHINA).date().isoformat(),
        valid_until=claims.valid_until.isoformat(), url=url,
        lookup_url=f"{base_url.lower()}/verify", check_code=cert.check_code,
        qr=qr_modules(url), notes=tuple(summary.get("notes", ())))


def _bucket_row(bucket: str, value: Decimal, minimum: Decimal | None) -> BucketRow:
    return BucketRow(BUCKET_LABELS[bucket], amount(value), amount(minimum) if minimum is not None else "—",
                     minimum is None or value >= minimum, bucket in ("prefecture", "county", "required", "total"))


def _year_row(y: dict) -> YearRow:
    return YearRow(y["year"], y["total"], y["required"], y["elective"], y["school_based"],
                   YEAR_STATUS.get(y["status"], y["status"]))


def qr_modules(url: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code's dark modules, row by row, without the quiet zone:
    level M; an upper-case URL gets alphanumeric mode and the smallest
    version that holds it (the one issuer.qr.qr_version computes).

    zxing-cpp's encoder (C++) rather than qrcode's: qrcode scores the eight
    mask patterns in pure Python, 26 ms a certificate, a tenth of a batch's
    CPU; zxing-cpp chooses the mask by the same ISO 18004 rules in 1.5 ms.
    """
    symbol = memoryview(zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
                        .to_image(scale=1, add_quiet_zones=False))
    rows, size = symbol.shape
    pixels = symbol.tobytes()  # one byte a module: 0 dark, 255 light
    return tuple(tuple(p == 0 for p in pixels[r * size:(r + 1) * size]) for r in range(rows))
