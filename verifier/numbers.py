"""Certificate numbers and national ID numbers (docs/formats.md, GB 11643).

Both end in an ISO 7064 MOD 11-2 check character; the certificate number
reuses the national ID algorithm so clerks already know how to check it.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECK_ALPHABET = "0123456789X"


def ascii_digits(text: str) -> bool:
    """True for 0-9 only: str.isdigit() also takes ² and other scripts' digits."""
    return text.isascii() and text.isdigit()


# What a Chinese input method types in full-width mode: digits, X, dashes and
# spaces. Only these: NFKC would also read ⑥, ³ or Ⅹ as a digit or an X.
_FULL_WIDTH = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},
        "\uff38": "X",
        "\uff58": "x",
        "\uff0d": "-",
        "\u2014": "-",
        "\u3000": " ",
        "\u00a0": " ",
    }
)


def half_width(text: str) -> str:
    """Full-width digits, X, dashes and spaces as their ASCII forms; the
    rest unchanged (and so refused where only 0-9 and X may stand)."""
    return text.translate(_FULL_WIDTH)


CERT_KIND_CYCLE = 1  # T = 1: continuing-education certificate of the cycle


def mod11_2(digits: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a string of digits."""
    p = 0
    for ch in digits:
        p = ((p + int(ch)) * 2) % 11
    return CHECK_ALPHABET[(12 - p) % 11]


class NumberFormatError(ValueError):
    """A certificate number that is not well formed; the message says why."""


@dataclass(frozen=True, order=True)
class CertificateNumber:
    bureau: str  # 6-digit GB/T 2260 region code
    cycle: int
    kind: int
    seq: int

    def __post_init__(self) -> None:
        if len(self.bureau) != 6 or not ascii_digits(self.bureau):
            raise NumberFormatError(f"bureau code must be 6 digits, got {self.bureau!r}")
        if not 0 <= self.cycle <= 99:
            raise NumberFormatError(f"cycle must be 0..99, got {self.cycle}")
        if not 1 <= self.kind <= 9:
            raise NumberFormatError(f"kind must be 1..9, got {self.kind}")
        if not 1 <= self.seq <= 999_999:
            raise NumberFormatError(f"sequence must be 1..999999, got {self.seq}")

    @property
    def body(self) -> str:
        return f"{self.bureau}{self.cycle:02d}{self.kind}{self.seq:06d}"

    @property
    def compact(self) -> str:
        """The stored and compared form: 16 characters, no separators."""
        return self.body + mod11_2(self.body)

    @property
    def printed(self) -> str:
        """The printed form, e.g. 654004-07-1-000123-6."""
        c = self.compact
        return f"{c[:6]}-{c[6:8]}-{c[8]}-{c[9:15]}-{c[15]}"

    def __str__(self) -> str:
        return self.compact

    @classmethod
    def parse(cls, text: str) -> CertificateNumber:
        """Parse the compact or printed form; reject a wrong check character
        before anything looks the number up."""
        raw = half_width(text).strip().replace("-", "").replace(" ", "").upper()
        if len(raw) != 16:
            raise NumberFormatError(
                f"a certificate number has 16 characters without separators, got {len(raw)}"
            )
        body, check = raw[:15], raw[15]
        if not ascii_digits(body) or check not in CHECK_ALPHABET:
            raise NumberFormatError("a certificate number is 15 digits and a check character 0-9 or X")
        expected = mod11_2(body)
        if check != expected:
            raise NumberFormatError(f"check character of {raw} is wrong: got {check}, expected {expected}")
        return cls(bureau=body[:6], cycle=int(body[6:8]), kind=int(body[8]), seq=int(body[9:15]))


def mask_id_number(id_number: str) -> str:
    """Public form of a national ID number: the last 4 characters kept, the
    14 before them starred, so region and birth date never show."""
    return "*" * 14 + id_number[-4:]
