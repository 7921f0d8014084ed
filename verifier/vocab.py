"""The fixed vocabulary of the formats: buckets, levels, categories, modes,
grades and roles, each an English code with its Chinese label; and the three
enums every part speaks (a certificate's verdict, a version's state in the
register, a verification's outcome), each with its one label table."""

from __future__ import annotations

from enum import IntEnum, StrEnum

# Leaf buckets, in the order of the token's credits array (docs/formats.md).
LEAF_BUCKETS = (
    "prefecture_public",
    "prefecture_professional",
    "county_public",
    "county_professional",
    "digital",
    "elective",
    "school_based",
)

# Aggregates are sums of leaves; never stored, always derived.
AGGREGATES: dict[str, tuple[str, ...]] = {
    "prefecture": ("prefecture_public", "prefecture_professional"),
    "county": ("county_public", "county_professional"),
    "required": (
        "prefecture_public",
        "prefecture_professional",
        "county_public",
        "county_professional",
        "digital",
    ),
    "total": LEAF_BUCKETS,
}

# The order of the credit sheet's "buckets" object (docs/formats.md).
BUCKETS = (
    "prefecture_public",
    "prefecture_professional",
    "prefecture",
    "county_public",
    "county_professional",
    "county",
    "digital",
    "required",
    "elective",
    "school_based",
    "total",
)

BUCKET_LABELS = {
    "prefecture_public": "州级及以上·公共课",
    "prefecture_professional": "州级及以上·专业课",
    "prefecture": "州级及以上合计",
    "county_public": "县市级·公共课",
    "county_professional": "县市级·专业课",
    "county": "县市级合计",
    "digital": "数字素养",
    "required": "必修合计",
    "elective": "选修",
    "school_based": "校本研修",
    "total": "总学分",
    "induction": "新教师适岗培训",
}

LEVELS = {
    "national": "国家级",
    "provincial": "自治区级",
    "prefecture": "州级",
    "county": "县市级",
    "school": "校级",
}
CATEGORIES = {
    "required-public": "必修-公共",
    "required-professional": "必修-专业",
    "required-digital": "必修-数字素养",
    "elective": "选修",
    "school-based": "校本",
    "induction": "适岗",
}
MODES = {"centralised": "集中", "online": "网络", "school-based": "校本"}
GRADES = {"fail": "不合格", "pass": "合格", "good": "良好", "excellent": "优秀"}
ROLES = {"trainee": "学员", "lead-trainer": "主讲"}
STAGES = {
    "kindergarten": "幼儿园",
    "primary": "小学",
    "junior": "初中",
    "senior": "高中",
    "vocational": "中职",
    "special": "特教",
    "other": "其他",
}
PROJECT_KINDS = {"training": "培训", "degree": "学历提升", "mandarin": "普通话"}

PASSING_GRADES = ("pass", "good", "excellent")


class Verdict(IntEnum):
    """A certificate's verdict: the token's `status` claim is its number, the
    JSON's `status`/`verdict` its code, and people read its label."""

    IN_PROGRESS = 0
    QUALIFIED = 1
    NOT_QUALIFIED = 2

    @property
    def code(self) -> str:
        return self.name.lower()

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self]

    @classmethod
    def from_code(cls, code: str) -> Verdict:
        return cls[code.upper()]


VERDICT_LABELS = {
    Verdict.IN_PROGRESS: "周期进行中",
    Verdict.QUALIFIED: "合格",
    Verdict.NOT_QUALIFIED: "不合格",
}


class CertState(StrEnum):
    """A version's state in the register."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return CERT_STATE_LABELS[self]


CERT_STATE_LABELS = {
    CertState.CURRENT: "现行",
    CertState.SUPERSEDED: "已被新版本取代",
    CertState.REVOKED: "已撤销",
}


class Outcome(StrEnum):
    """What a verification concludes (the result's `outcome`)."""

    VALID = "valid"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_VALID = "not_valid"


def state_label(state: str | None) -> str:
    """The label of a register state, or the raw value if it is not one (never raises)."""
    if state in CERT_STATE_LABELS:
        return CertState(state).label
    return state or ""
