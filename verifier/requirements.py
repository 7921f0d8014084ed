"""Whether bucket totals meet a cycle's minimums.

Shared by the issuer's credit engine (the verdict on a credit sheet) and the
verifier's credits check (the totals a token certifies), so both read the
published profile the same way.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from verifier.profiles import Offset, RulesProfile
from verifier.vocab import BUCKETS

ZERO = Decimal("0")
CENT = Decimal("0.01")


def check_minimums(
    amounts: dict[str, Decimal], minimums: dict[str, Decimal], offset: Offset | None
) -> tuple[Decimal, list[str]]:
    """(offset used, names of unmet minimums). Sub-minimums are strict; only
    the surplus of `offset.surplus_of` covers shortfalls, in `offset.covers`
    order (interpretation offset_order)."""
    used, short = shortfalls(amounts, minimums, offset)
    return used, list(short)


def shortfalls(
    amounts: dict[str, Decimal], minimums: dict[str, Decimal], offset: Offset | None
) -> tuple[Decimal, dict[str, Decimal]]:
    """(offset used, what each unmet minimum still lacks after the offset),
    the unmet in BUCKETS order."""
    short = {b: m - amounts[b] for b, m in minimums.items() if amounts[b] < m}
    used = ZERO
    if offset and offset.surplus_of in minimums:
        surplus = max(ZERO, amounts[offset.surplus_of] - minimums[offset.surplus_of])
        for b in offset.covers:
            if b in short and surplus > 0:
                take = min(surplus, short[b])
                surplus -= take
                used += take
                short[b] -= take
                if short[b] == 0:
                    del short[b]
    return used, {b: short[b] for b in BUCKETS if b in short}


def prorate(minimums: dict[str, Decimal], served: int, years: int) -> dict[str, Decimal]:
    """Minimums scaled by full years served (interpretation
    prorate_full_years), each rounded half-up to the cent."""
    share = Decimal(served) / Decimal(years)
    return {b: (m * share).quantize(CENT, rounding=ROUND_HALF_UP) for b, m in minimums.items()}


def yearly_rule_text(profile: RulesProfile) -> str:
    """The yearly minimums as the certificate and the verifier page print
    them ("" when the profile has none)."""
    if profile.yearly is None:
        return ""
    return "年度原则要求：" + "，".join(
        f"{profile.bucket_label(b)} {v:.2f}" for b, v in profile.yearly.minimums.items()
    )
