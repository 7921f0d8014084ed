"""What a certificate PDF says, taken from the signed token (so the page
shows exactly what a verifier will see) and the sheet summary stored with it
at issue (each year's parts, the minimums that applied)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import zxingcpp

from verifier.clock import CHINA
from verifier.lookup import group_code
from verifier.numbers import CertificateNumber
from verifier.profiles import RulesProfile
from verifier.qr import verification_url
from verifier.reading import YearRow as YearReading
from verifier.reading import read_credits
from verifier.summary import SheetSummary
from verifier.token import from_base32, parse
from verifier.vocab import Verdict

# A PDF states what was certified on its issue day, never that it is still
# current: that is the verifier's to say, so the page sends readers there.
STANDING = "以扫码查验结果为准"


@dataclass(frozen=True)
class BucketRow:
    label: str
    amount: str
    minimum: str
    status: str
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
    standing: str
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
    prorated: bool
    verdict: str
    status: int
    issued_on: str
    valid_until: str
    url: str
    lookup_url: str
    check_code: str
    qr: tuple[tuple[bool, ...], ...]
    notes: tuple[str, ...]


class Certified(Protocol):
    """What view reads of a certificate: an issuer.models.Certificate row,
    or the batch's picklable Job."""

    @property
    def token(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def check_code(self) -> str: ...


def view(cert: Certified, profile: RulesProfile, base_url: str) -> CertificateView:
    """cert: an issuer.models.Certificate row. The rows come from
    verifier.reading, as the verifier's page has them."""
    claims = parse(from_base32(cert.token)).claims
    reading = read_credits(claims, profile, SheetSummary.from_json(cert.summary))
    url = verification_url(base_url, cert.token)
    return CertificateView(
        number=claims.number,
        printed_number=CertificateNumber.parse(claims.number).printed,
        version=claims.version,
        standing=STANDING,
        bureau_name=profile.issuer_name,
        bureau_code=claims.issuer,
        holder=claims.holder,
        id_masked=claims.id_masked,
        school=claims.school,
        cycle=claims.cycle,
        cycle_years=f"{profile.first_year}—{profile.last_year}",
        buckets=tuple(
            BucketRow(
                r.label,
                f"{r.credits:.2f}",
                f"{r.minimum:.2f}" if r.minimum is not None else "—",
                r.status_label,
                r.aggregate,
            )
            for r in reading.buckets
        ),
        years=tuple(_year_row(y) for y in reading.years),
        yearly_rule=reading.yearly_rule,
        prorated=reading.prorated,
        verdict=Verdict(claims.status).label,
        status=claims.status,
        issued_on=claims.issued_at.astimezone(CHINA).date().isoformat(),
        valid_until=claims.valid_until.isoformat(),
        url=url,
        lookup_url=f"{base_url.lower()}/verify",
        check_code=group_code(cert.check_code),
        qr=qr_modules(url),
        notes=reading.notes + reading.sheet_notes,
    )


def _year_row(y: YearReading) -> YearRow:
    parts = y.parts or {"total": f"{y.credits:.2f}"}
    return YearRow(
        y.year,
        parts["total"],
        parts.get("required", ""),
        parts.get("elective", ""),
        parts.get("school_based", ""),
        y.label,
    )


def qr_modules(url: str) -> tuple[tuple[bool, ...], ...]:
    """The QR code's dark modules, row by row, without the quiet zone:
    level M; an upper-case URL gets alphanumeric mode and the smallest
    version that holds it (the one issuer.certificates.qr.qr_version computes).

    zxing-cpp's encoder (C++) rather than qrcode's: qrcode scores the eight
    mask patterns in pure Python, 26 ms a certificate, a tenth of a batch's
    CPU; zxing-cpp chooses the mask by the same ISO 18004 rules in 1.5 ms.
    """
    image = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(
        scale=1, add_quiet_zones=False
    )
    # zxing-cpp's Image has the buffer protocol, which its stub does not declare
    symbol = memoryview(image)  # type: ignore[arg-type]
    assert symbol.shape is not None  # None only for a buffer of no dimensions; this one has two
    rows, size = symbol.shape
    pixels = symbol.tobytes()  # one byte a module: 0 dark, 255 light
    return tuple(tuple(p == 0 for p in pixels[r * size : (r + 1) * size]) for r in range(rows))
