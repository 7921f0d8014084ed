#!/usr/bin/env python3
"""Deterministic sample import files for Horgos (霍尔果斯市), cycle 7 (2024–2028).

Writes the three import files of docs/formats.md ("Import files") with the
Chinese headers and enumeration values:

    roster.csv    姓名,身份证号,性别,学校代码,学校名称,学段,入职日期,职称
    projects.csv  项目编号,项目名称,项目级别,课程类别,培训形式,学时,年度,是否备案
    records.csv   身份证号,项目编号,考核等次,角色,完成日期

The data are invented but shaped like the real thing: the schools of the
city at every stage, Han, Uyghur and Kazakh names, valid national ID
numbers (GB 11643, Yili region codes), the approved projects of every level
and category, and records that leave roughly two teachers in three
qualified under the rules of docs/rules.md and the rest short in one bucket or
another. Same arguments, same bytes: everything comes from one
random.Random(seed) and is iterated in a fixed order; no clock, no hashing.

The data stand as of a cut-off day, `until` (default 2026-06-30): the
import refuses a record completed after today (China time), and credits
count only up to the as-of day, so a sample must lie wholly in the past to
stay importable on any later day. Nobody is hired after `until`, no record
is completed after it, and only the cycle years up to its year have
approved projects (a project of that year still running at `until` is
listed, but nobody has completed it yet). Each teacher still plans for the
whole cycle's minimums (her late-joiner share of them), but only what she
could complete by `until` is there: the qualified share is the one as of
that day.

    python scripts/make_sample.py [--out sample] [--teachers N] [--schools N]
                                  [--seed S] [--records-per-teacher R]
                                  [--until YYYY-MM-DD]

Standard library only; importable (`generate()`), and fast enough for
10 000 teachers × 30 records in a few seconds.
"""

import argparse
import csv
import random
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from verifier.numbers import mod11_2  # noqa: E402  (needs ROOT on sys.path)

DEFAULT_OUT = ROOT / "sample"
DEFAULT_RECORDS_PER_TEACHER = 22.0
DEFAULT_UNTIL = date(2026, 6, 30)  # the data's cut-off: nothing completed or hired after it
YEARS = (2024, 2025, 2026, 2027, 2028)
CYCLE_START = date(2024, 1, 1).toordinal()
CYCLE_END = date(2028, 12, 31).toordinal()
REGION = "654004"  # 霍尔果斯市

ROSTER_HEADER = ("姓名", "身份证号", "性别", "学校代码", "学校名称", "学段", "入职日期", "职称")
PROJECTS_HEADER = ("项目编号", "项目名称", "项目级别", "课程类别", "培训形式", "学时", "年度", "是否备案")
RECORDS_HEADER = ("身份证号", "项目编号", "考核等次", "角色", "完成日期")

# -- the rules the generator aims at (docs/rules.md; the engine is the judge) ---

# Buckets as the generator plans them: pp/pf prefecture-and-above public /
# professional, cp/cf county public / professional, dg digital, el elective,
# sb school-based; ind is induction (适岗), which counts as county professional.
MINIMUMS = {"pp": 5.0, "pf": 15.0, "cp": 10.0, "cf": 20.0, "dg": 10.0, "el": 10.0, "sb": 20.0}
REQUIRED = ("pp", "pf", "cp", "cf", "dg")
HOURS_PER_CREDIT = {"集中": 4.0, "网络": 5.0, "校本": 5.0}
GRADE_REWARD = {
    "国家级": {"良好": 0.10, "优秀": 0.15},
    "自治区级": {"良好": 0.10, "优秀": 0.15},
    "州级": {"良好": 0.05, "优秀": 0.10},
    "县市级": {"良好": 0.05, "优秀": 0.10},
}
LEAD_REWARD = {"国家级": 2.0, "自治区级": 2.0, "州级": 1.0, "县市级": 1.0}
INDUCTION_CREDITS = 30.0

SHORT_SHARE = 0.34  # teachers who set out to leave one or two buckets short
SHORT_WEIGHTS = (("sb", 22), ("el", 14), ("cf", 16), ("cp", 12), ("dg", 14), ("pf", 12), ("pp", 10))
EXTRA_WEIGHTS = (("sb", 30), ("el", 18), ("cf", 18), ("cp", 10), ("dg", 10), ("pf", 9), ("pp", 5))

# -- schools ----------------------------------------------------------------

K, P, J, S, V, X = "幼儿园", "小学", "初中", "高中", "中职", "特教"
# (name, stages its teachers teach, size range). A few first so that any
# small sample still covers every stage.
SCHOOLS = (
    ("霍尔果斯市第一小学", (P,), (90, 130)),
    ("霍尔果斯市第一中学", (J, S), (110, 160)),
    ("霍尔果斯市第一幼儿园", (K,), (30, 45)),
    ("霍尔果斯市第二中学", (J,), (70, 100)),
    ("霍尔果斯市职业技术学校", (V,), (60, 85)),
    ("霍尔果斯市特殊教育学校", (X,), (16, 24)),
    ("霍尔果斯市第二小学", (P,), (80, 120)),
    ("霍尔果斯市伊车嘎善锡伯族乡中心幼儿园", (K,), (18, 28)),
    ("霍尔果斯市第三小学", (P,), (70, 110)),
    ("霍尔果斯市高级中学", (S,), (100, 140)),
    ("霍尔果斯市第二幼儿园", (K,), (28, 40)),
    ("霍尔果斯市第三中学", (J,), (60, 90)),
    ("霍尔果斯市伊车嘎善锡伯族乡中心学校", (P, J), (45, 70)),
    ("霍尔果斯市第四小学", (P,), (60, 100)),
    ("霍尔果斯市第三幼儿园", (K,), (25, 38)),
    ("霍尔果斯市莫乎尔牧场学校", (P, J), (35, 55)),
    ("霍尔果斯市格干沟牧场学校", (P, J), (30, 50)),
    ("霍尔果斯市第五小学", (P,), (55, 90)),
    ("霍尔果斯市第四幼儿园", (K,), (22, 35)),
    ("霍尔果斯市莫乎尔牧场中心幼儿园", (K,), (14, 22)),
    ("霍尔果斯市格干沟牧场幼儿园", (K,), (12, 20)),
    ("霍尔果斯市第四中学", (J,), (50, 80)),
    ("霍尔果斯市亚欧路社区幼儿园", (K,), (16, 26)),
    ("霍尔果斯市第六小学", (P,), (50, 85)),
    ("霍尔果斯市第五幼儿园", (K,), (20, 32)),
    ("霍尔果斯市口岸学校", (P, J), (40, 65)),
    ("霍尔果斯市第六幼儿园", (K,), (20, 30)),
    ("霍尔果斯市伊车嘎善锡伯族乡第二小学", (P,), (20, 32)),
    ("霍尔果斯市第七小学", (P,), (45, 75)),
    ("霍尔果斯市第七幼儿园", (K,), (18, 28)),
    ("霍尔果斯市实验小学", (P,), (70, 110)),
    ("霍尔果斯市实验幼儿园", (K,), (28, 40)),
    ("霍尔果斯市第八幼儿园", (K,), (16, 26)),
    ("霍尔果斯市第五中学", (J,), (45, 75)),
    ("霍尔果斯市第九幼儿园", (K,), (15, 24)),
    ("霍尔果斯市第八小学", (P,), (40, 70)),
)
# Beyond the list: numbered schools in this rotation.
MORE_SCHOOLS = (
    ("幼儿园", (K,), (15, 30)),
    ("小学", (P,), (40, 80)),
    ("幼儿园", (K,), (15, 30)),
    ("小学", (P,), (40, 80)),
    ("中学", (J,), (40, 75)),
)
FEMALE_SHARE = {K: 0.95, P: 0.74, J: 0.62, S: 0.54, V: 0.50, X: 0.80}
DIGITS_ZH = "〇一二三四五六七八九"


def _ordinal_zh(n: int) -> str:
    if n < 10:
        return DIGITS_ZH[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else DIGITS_ZH[tens]) + "十" + ("" if ones == 0 else DIGITS_ZH[ones])


@dataclass(frozen=True, slots=True)
class School:
    index: int
    code: str
    name: str
    stages: tuple[str, ...]
    size: int


def make_schools(rng: random.Random, count: int) -> list[School]:
    specs = list(SCHOOLS[:count])
    used_names = {s[0] for s in specs}
    numbers = {"幼儿园": 10, "小学": 9, "中学": 6}
    i = 0
    while len(specs) < count:
        kind, stages, size = MORE_SCHOOLS[i % len(MORE_SCHOOLS)]
        i += 1
        name = f"霍尔果斯市第{_ordinal_zh(numbers[kind])}{kind}"
        numbers[kind] += 1
        if name not in used_names:
            used_names.add(name)
            specs.append((name, stages, size))
    if count > 9999:
        raise ValueError(f"school codes have 4 digits after {REGION}: at most 9999 schools, got {count}")
    gap = 3 if count <= 3333 else 1  # codes are not consecutive, but must fit
    schools, code = [], 0
    for index, (name, stages, (lo, hi)) in enumerate(specs):
        code += rng.randint(1, gap)
        schools.append(School(index, f"{REGION}{code:04d}", name, stages, rng.randint(lo, hi)))
    return schools


# -- names ------------------------------------------------------------------

HAN_SURNAMES = (
    ("王", 70),
    ("李", 68),
    ("张", 64),
    ("刘", 52),
    ("陈", 42),
    ("杨", 40),
    ("马", 36),
    ("赵", 30),
    ("黄", 24),
    ("周", 22),
    ("吴", 22),
    ("徐", 18),
    ("孙", 18),
    ("朱", 15),
    ("胡", 15),
    ("郭", 15),
    ("何", 14),
    ("高", 14),
    ("林", 12),
    ("罗", 12),
    ("郑", 11),
    ("梁", 10),
    ("谢", 9),
    ("宋", 9),
    ("唐", 9),
    ("许", 8),
    ("韩", 9),
    ("冯", 8),
    ("邓", 8),
    ("曹", 8),
    ("彭", 7),
    ("曾", 6),
    ("肖", 6),
    ("田", 7),
    ("董", 7),
    ("袁", 6),
    ("潘", 5),
    ("于", 6),
    ("蒋", 5),
    ("蔡", 5),
    ("余", 5),
    ("杜", 6),
    ("叶", 5),
    ("程", 5),
    ("苏", 6),
    ("魏", 6),
    ("吕", 5),
    ("丁", 6),
    ("任", 5),
    ("沈", 4),
    ("姚", 4),
    ("卢", 4),
    ("姜", 4),
    ("崔", 4),
    ("钟", 3),
    ("谭", 3),
    ("陆", 3),
    ("汪", 3),
    ("范", 4),
    ("金", 3),
    ("石", 4),
    ("贾", 4),
    ("夏", 3),
    ("付", 4),
    ("方", 3),
    ("白", 4),
    ("孟", 4),
    ("秦", 3),
    ("闫", 4),
    ("薛", 3),
    ("雷", 3),
    ("侯", 3),
    ("龙", 2),
    ("史", 3),
    ("陶", 2),
    ("贺", 3),
    ("顾", 2),
    ("毛", 2),
    ("郝", 3),
    ("武", 3),
    ("关", 4),
    ("佟", 3),
    ("托", 1),
    ("海", 1),
    ("锁", 1),
    ("欧阳", 1),
    ("司马", 1),
    ("上官", 1),
)
HAN_GIVEN = {
    "女": "芳娜敏静丽艳娟霞燕玲婷雪琳慧颖倩洁莉萍红梅琴兰丹秀凤英佳欣怡悦璐瑶蕾晶月雯菲薇蓉"
    "晓思梦雅欢宁春玉珊嘉馨璇萱婧露妍娇洋",
    "男": "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭龙林阳峰亮成东建志文博振海晨"
    "斌立新国荣永胜德江",
}
RARE_GIVEN = {"女": "玥珺婕晞瑄玙祎琤", "男": "喆堃昇燊旻赟翀彧璟淏琛暄"}

UYGHUR_F = (
    "阿依古丽",
    "古丽米拉",
    "热依拉",
    "迪丽努尔",
    "帕提古丽",
    "阿依努尔",
    "米热古丽",
    "努尔古丽",
    "再努尔",
    "玛依拉",
    "阿尔孜古丽",
    "祖丽皮亚",
    "海丽且木",
    "帕丽达",
    "阿依夏木",
    "苏比努尔",
    "热孜宛古丽",
    "古丽娜尔",
    "茹仙古丽",
    "阿米娜",
    "佐热姆",
    "布维阿依谢姆",
    "迪力胡玛尔",
    "麦尔哈巴",
)
KAZAKH_F = (
    "古丽巴哈尔",
    "加娜尔",
    "阿勒腾古丽",
    "巴合提古丽",
    "沙吾列",
    "阿克依努尔",
    "古丽扎达",
    "玛丽亚",
    "哈丽曼",
    "阿娜尔古丽",
    "达娜",
    "阿依达娜",
    "木合塔尔古丽",
    "叶尔克古丽",
)
UYGHUR_M = (
    "买买提",
    "艾买提江",
    "阿不都热合曼",
    "吐尔逊",
    "阿卜杜拉",
    "艾力",
    "努尔买买提",
    "伊力哈木",
    "热合曼",
    "亚森",
    "艾尔肯",
    "依明",
    "买合木提",
    "阿里木",
    "肉孜",
    "吾斯曼",
    "阿不力孜",
    "艾克拜尔",
    "库尔班",
    "玉素甫",
    "阿布都外力",
    "麦麦提图尔荪",
    "阿卜杜热西提",
    "托合提尼亚孜",
    "阿不都克尤木",
    "吐尔洪江",
)
KAZAKH_M = (
    "努尔兰",
    "别克波拉提",
    "叶尔兰",
    "哈那提",
    "阿斯哈尔",
    "加尔肯",
    "塞力克",
    "吐尔逊别克",
    "哈布都力",
    "木拉提",
    "巴合达提",
    "叶尔波拉提",
    "达吾列提",
    "努尔苏丹",
    "吾尔曼",
    "别克",
    "阿曼太",
    "托合塔尔别克",
    "胡安德克",
    "叶尔肯别克",
    "居马别克",
    "阿合买提",
)
MINORITY_SHARE = 0.30
MAX_NAME = 20


def _weighted(pairs):
    values = tuple(v for v, _ in pairs)
    cum, total = [], 0
    for _, w in pairs:
        total += w
        cum.append(total)
    return values, tuple(cum)


SURNAME_TABLE = _weighted(HAN_SURNAMES)


def han_name(rng: random.Random, gender: str) -> str:
    surname = rng.choices(SURNAME_TABLE[0], cum_weights=SURNAME_TABLE[1])[0]
    pool = HAN_GIVEN[gender]
    given = [rng.choice(pool) for _ in range(1 if rng.random() < 0.3 else 2)]
    if rng.random() < 0.05:
        given[rng.randrange(len(given))] = rng.choice(RARE_GIVEN[gender])
    if len(given) == 2 and given[0] == given[1] and rng.random() < 0.7:
        given.pop()
    return surname + "".join(given)


def minority_name(rng: random.Random, gender: str) -> str:
    """Given name · father's name (· grandfather's, now and then), as the
    Uyghur and Kazakh names of Yili are written in Chinese."""
    kazakh = rng.random() < 0.45
    males = KAZAKH_M if kazakh else UYGHUR_M
    given = rng.choice(KAZAKH_F if kazakh else UYGHUR_F) if gender == "女" else rng.choice(males)
    parts = [given]
    for _ in range(2 if rng.random() < 0.05 else 1):  # now and then the grandfather too
        name = rng.choice(males)
        while name in parts:  # a father is not named like his son
            name = rng.choice(males)
        parts.append(name)
    while len("·".join(parts)) > MAX_NAME:
        parts.pop()
    return "·".join(parts)


# -- national ID numbers (GB 11643) ----------------------------------------

# Real GB/T 2260 codes: most teachers of Horgos were first registered in Yili
# prefecture; some came from elsewhere in Xinjiang or from inland provinces.
REGIONS_YILI = (
    ("654004", 7),
    ("654002", 14),
    ("654021", 10),
    ("654022", 10),
    ("654023", 16),
    ("654024", 5),
    ("654025", 5),
    ("654026", 4),
    ("654027", 3),
    ("654028", 4),
    ("654003", 2),
)
REGIONS_AWAY = (
    ("650102", 3),
    ("650104", 2),
    ("652301", 3),
    ("620102", 2),
    ("620502", 2),
    ("621102", 2),
    ("411302", 1),
    ("510722", 1),
    ("371702", 1),
)
YILI_TABLE = _weighted(REGIONS_YILI)
ALL_TABLE = _weighted(REGIONS_YILI + REGIONS_AWAY)
HORGOS_SINCE = 1997  # 654004 exists since 2014: only those first registered then


def id_number(rng: random.Random, born: date, gender: str, minority: bool, taken: set[str]) -> str:
    table = YILI_TABLE if minority else ALL_TABLE
    while True:
        region = rng.choices(table[0], cum_weights=table[1])[0]
        if region == REGION and born.year < HORGOS_SINCE:
            continue
        seq = rng.randrange(0, 500) * 2 + (1 if gender == "男" else 0)  # odd = male
        if seq == 0:
            continue
        body = f"{region}{born:%Y%m%d}{seq:03d}"
        number = body + mod11_2(body)
        if number not in taken:
            taken.add(number)
            return number


# -- teachers ---------------------------------------------------------------


@dataclass(slots=True)
class Teacher:
    name: str
    id_number: str
    gender: str
    school: School
    stage: str
    born: date
    hired: int  # date ordinal
    title: str

    @property
    def new(self) -> bool:
        return self.hired > CYCLE_START


def _hire_date(rng: random.Random, year: int) -> int:
    """Most teachers start with the school year; some at other times."""
    r = rng.random()
    if r < 0.55:
        return date(year, 9, 1).toordinal()
    if r < 0.75:
        return date(year, 8, rng.randint(15, 31)).toordinal()
    if r < 0.85:
        return date(year, 3, rng.randint(1, 10)).toordinal()
    return date(year, rng.randint(1, 12), rng.randint(1, 28)).toordinal()


def _title(rng: random.Random, age: int) -> str:
    if rng.random() < 0.42:
        return ""
    if age < 26:
        return rng.choice(("三级教师", "二级教师", "二级教师"))
    if age < 34:
        return rng.choice(("二级教师", "二级教师", "一级教师"))
    if age < 45:
        return rng.choice(("二级教师", "一级教师", "一级教师", "高级教师"))
    return rng.choice(
        ("一级教师", "高级教师", "高级教师", "正高级教师")
        if rng.random() < 0.15
        else ("一级教师", "高级教师")
    )


HIRE_YEAR_WEIGHTS = (26, 26, 22, 18, 8)  # of those hired during the cycle, by year


def _hire_in_cycle(rng: random.Random, last: int) -> int:
    """A hire date from 2024-01-02 to `last`: the year by HIRE_YEAR_WEIGHTS,
    the day as _hire_date has it; a day after `last` is drawn again (those
    teachers are not hired yet), and after a few vain tries any day will do."""
    years = [y for y in YEARS if date(y, 1, 1).toordinal() <= last]
    weights = HIRE_YEAR_WEIGHTS[: len(years)]
    for _ in range(24):
        year = rng.choices(years, weights=weights)[0]
        hired = max(_hire_date(rng, year), CYCLE_START + 1)
        if hired <= last:
            return hired
    return rng.randint(CYCLE_START + 1, last)


def make_teachers(
    rng: random.Random, count: int, schools: list[School], until: int = DEFAULT_UNTIL.toordinal()
) -> list[Teacher]:
    """`until` (a date ordinal): nobody is hired after it."""
    cum, total = [], 0
    for s in schools:
        total += s.size
        cum.append(total)
    taken: set[str] = set()
    teachers = []
    last_hire = min(date(2028, 6, 30).toordinal(), until)
    hiring = last_hire > CYCLE_START  # anyone can have been hired during the cycle
    for _ in range(count):
        school = rng.choices(schools, cum_weights=cum)[0]
        stage = rng.choice(school.stages)
        gender = "女" if rng.random() < FEMALE_SHARE[stage] else "男"
        minority = rng.random() < MINORITY_SHARE
        name = minority_name(rng, gender) if minority else han_name(rng, gender)
        if rng.random() < 0.08 and hiring:  # hired during the cycle
            hired = _hire_in_cycle(rng, last_hire)
            year = date.fromordinal(hired).year
            age_at_hire = rng.choice((22, 22, 23, 23, 24, 25, 26, 28, 31))
            born_year = min(max(year - age_at_hire, 1962), 2002)
        else:
            born_year = rng.choices(
                range(1962, 2003),
                weights=[
                    1 if y < 1966 else 3 if y < 1972 else 6 if y < 1980 else 9 if y < 1995 else 6
                    for y in range(1962, 2003)
                ],
            )[0]
            start = max(born_year + rng.choice((20, 21, 22, 22, 23, 23, 24, 25, 27, 30)), 1982)
            hired = _hire_date(rng, min(start, 2023))
        born = date.fromordinal(date(born_year, 1, 1).toordinal() + rng.randrange(365))
        number = id_number(rng, born, gender, minority, taken)
        # new teachers get their first title after the probation year, if at all yet
        title = (
            ("" if rng.random() < 0.85 else "三级教师")
            if hired > CYCLE_START - 365
            else _title(rng, 2024 - born_year)
        )
        teachers.append(Teacher(name, number, gender, school, stage, born, hired, title))
    teachers.sort(key=lambda t: (t.school.code, t.hired, t.id_number))
    return teachers


# -- approved projects ------------------------------------------------------

LEVEL_PREFIX = {"国家级": "GP", "自治区级": "XJ", "州级": "YL", "县市级": "HEGS"}
ALL = (K, P, J, S, V, X)
K12 = (P, J, S)
SUBJECTS = (
    "语文",
    "数学",
    "英语",
    "物理",
    "化学",
    "生物学",
    "道德与法治",
    "思想政治",
    "历史",
    "地理",
    "音乐",
    "体育与健康",
    "美术",
    "信息科技",
    "科学",
)
HOURS = {
    "集中": (8, 12, 16, 16, 20, 24, 24, 24, 30, 30, 40, 40, 50),
    "网络": (6, 12, 12, 20, 20, 24, 30, 30, 40, 50, 12.5, 22.5, 37.5),
    "校本": (12, 16, 20, 20, 24, 24, 30, 30, 12.5, 22.5),
}

# (level, category, mode or "*", name template, audience, bucket, count per year)
# "{y}" is the year, "{s}" a subject. Levels and categories follow the
# rules: required courses at county level and above, digital at any of
# those, electives at county and above, induction at county level only,
# school-based courses at school level only (see school_projects).
CATALOGUE = (
    ("国家级", "必修-公共", "网络", "国家智慧教育平台{y}年寒假教师研修", ALL, "pp", 1),
    ("国家级", "必修-专业", "网络", "国家智慧教育平台{y}年暑期教师研修", ALL, "pf", 1),
    ("国家级", "必修-专业", "集中", "“国培计划”（{y}）—新疆中小学幼儿园骨干教师能力提升培训", ALL, "pf", 1),
    ("国家级", "必修-数字素养", "网络", "国家智慧教育平台教师数字素养提升专题研修（{y}）", ALL, "dg", 1),
    ("国家级", "选修", "网络", "“国培计划”（{y}）—中小学心理健康教育教师网络研修", ALL, "el", 1),
    ("自治区级", "必修-公共", "网络", "{y}年自治区中小学幼儿园教师师德师风专题培训", ALL, "pp", 1),
    ("自治区级", "必修-专业", "集中", "{y}年自治区中小学学科骨干教师培训（{s}）", K12, "pf", 2),
    ("自治区级", "必修-专业", "集中", "{y}年自治区幼儿园教师“七大能力”提升培训", (K,), "pf", 1),
    ("自治区级", "必修-专业", "集中", "{y}年自治区中职学校“双师型”教师专业能力提升培训", (V,), "pf", 1),
    ("自治区级", "必修-数字素养", "网络", "{y}年自治区中小学教师数字素养提升培训", ALL, "dg", 1),
    ("自治区级", "选修", "网络", "{y}年自治区中小学班主任工作能力提升网络培训", ALL, "el", 1),
    ("州级", "必修-公共", "集中", "伊犁州{y}年铸牢中华民族共同体意识专题培训", ALL, "pp", 1),
    ("州级", "必修-公共", "网络", "伊犁州{y}年国家通用语言文字规范化应用培训", ALL, "pp", 1),
    ("州级", "必修-专业", "*", "伊犁州{y}年新课标新教材实施专业课培训（{s}）", K12, "pf", 3),
    ("州级", "必修-专业", "网络", "伊犁州{y}年中小学幼儿园教师教学能力提升网络研修", ALL, "pf", 1),
    ("州级", "必修-专业", "集中", "伊犁州{y}年幼儿园教师科学保教能力提升培训", (K,), "pf", 1),
    ("州级", "必修-专业", "集中", "伊犁州{y}年特殊教育教师专业能力提升培训", (X,), "pf", 1),
    ("州级", "必修-专业", "集中", "伊犁州{y}年中职学校专业课教师能力提升培训", (V,), "pf", 1),
    ("州级", "必修-数字素养", "*", "伊犁州{y}年教师信息技术应用能力提升工程2.0培训", ALL, "dg", 1),
    ("州级", "选修", "集中", "伊犁州{y}年家庭教育指导能力提升培训", ALL, "el", 1),
    ("县市级", "必修-公共", "集中", "霍尔果斯市{y}年铸牢中华民族共同体意识专题培训", ALL, "cp", 1),
    ("县市级", "必修-公共", "集中", "霍尔果斯市{y}年师德师风专题教育培训", ALL, "cp", 1),
    ("县市级", "必修-公共", "网络", "霍尔果斯市{y}年法治教育与校园安全专题培训", ALL, "cp", 1),
    ("县市级", "必修-公共", "网络", "霍尔果斯市{y}年国家通用语言文字规范化培训", ALL, "cp", 1),
    ("县市级", "必修-专业", "*", "霍尔果斯市{y}年新课标新教材实施专业课培训（{s}）", K12, "cf", 3),
    ("县市级", "必修-专业", "集中", "霍尔果斯市{y}年课堂教学能力提升培训", ALL, "cf", 1),
    ("县市级", "必修-专业", "网络", "霍尔果斯市{y}年作业设计与质量评价专题培训", K12, "cf", 1),
    ("县市级", "必修-专业", "集中", "霍尔果斯市{y}年骨干教师送教下乡培训", ALL, "cf", 1),
    ("县市级", "必修-专业", "集中", "霍尔果斯市{y}年融合教育与随班就读专题培训", ALL, "cf", 1),
    ("县市级", "必修-专业", "集中", "霍尔果斯市{y}年幼儿园保教质量提升培训", (K,), "cf", 1),
    ("县市级", "必修-专业", "集中", "霍尔果斯市{y}年幼儿园游戏活动组织与指导培训", (K,), "cf", 1),
    ("县市级", "必修-专业", "集中", "霍尔果斯市{y}年中职专业课教师企业实践培训", (V,), "cf", 1),
    ("县市级", "必修-数字素养", "集中", "霍尔果斯市{y}年教师数字素养提升培训", ALL, "dg", 1),
    ("县市级", "必修-数字素养", "集中", "霍尔果斯市{y}年智慧课堂与人工智能教学应用培训", ALL, "dg", 1),
    ("县市级", "选修", "集中", "霍尔果斯市{y}年班主任工作专题培训", ALL, "el", 1),
    ("县市级", "选修", "网络", "霍尔果斯市{y}年心理健康教育专题培训", ALL, "el", 1),
    ("县市级", "选修", "集中", "霍尔果斯市{y}年劳动教育与课后服务专题培训", ALL, "el", 1),
    ("县市级", "选修", "集中", "霍尔果斯市{y}年中小学书法教育专题培训", ALL, "el", 1),
    ("县市级", "选修", "集中", "霍尔果斯市{y}年学科教研与课题研究能力培训", ALL, "el", 1),
)
# Events that were never registered with the bureau (未备案): listed, 是否备案 = 否.
UNREGISTERED = (
    ("县市级", "选修", "网络", "{y}年暑期教师素养提升公益网络课程（社会培训机构）", ALL, "el", 1),
    ("县市级", "必修-专业", "集中", "霍尔果斯市{y}年片区联片教研观摩活动", ALL, "cf", 1),
)
# Induction of the year's new teachers: (name suffix, mode, hours, first
# day, last day as (month, day), fixed completion date or a window).
INDUCTION = (
    ("春季集中研修", "集中", 24, (3, 20), (3, 28), True),
    ("春季网络研修", "网络", 40, (3, 1), (6, 30), False),
    ("教学实践与考核", "集中", 40, (6, 10), (6, 20), True),
    ("秋季集中研修", "集中", 40, (9, 10), (9, 25), True),
    ("跟岗研修", "集中", 40, (10, 8), (12, 20), False),
    ("秋季网络研修", "网络", 50, (9, 1), (12, 31), False),
)
# A school's own sessions each year (term, last day): a small school three,
# a larger one four; two in the spring term, so that a sample cut off in
# mid-year still offers enough school-based credits.
SCHOOL_SESSIONS = {
    False: (("春季", (4, 30)), ("春季", (7, 5)), ("秋季", (12, 31))),
    True: (("春季", (4, 30)), ("春季", (7, 5)), ("秋季", (11, 20)), ("秋季", (12, 31))),
}
SCHOOL_TOPICS = (
    "大单元教学设计",
    "作业设计与评价",
    "课堂观察与评课议课",
    "集体备课与教材研讨",
    "课题研究方法",
    "家校协同育人",
    "国家通用语言文字规范书写",
    "青蓝工程师徒结对",
    "整本书阅读教学",
    "跨学科主题学习",
    "信息技术与学科教学融合",
    "学校文化建设",
    "课后服务课程建设",
    "学生心理健康辅导",
    "教学反思与叙事",
)
KINDER_TOPICS = (
    "游戏化教学",
    "幼小科学衔接",
    "观察记录与幼儿评价",
    "区域活动创设",
    "保教常规与安全",
    "家园共育",
    "国家通用语言文字启蒙教育",
    "园本课程建设",
)
VOCATIONAL_TOPICS = (
    "“双师型”教师实训能力",
    "产教融合与校企合作",
    "专业课程标准研读",
    "技能大赛指导",
    "课程思政",
)


@dataclass(slots=True)
class Project:
    index: int
    code: str
    name: str
    level: str
    category: str
    mode: str
    hours10: int  # tenths of an hour
    year: int
    approved: bool
    bucket: str
    stages: tuple[str, ...]
    school: int | None
    start: int  # date ordinals; `fixed` projects end on `end` for everyone
    end: int
    fixed: bool

    @property
    def hours_text(self) -> str:
        whole, tenth = divmod(self.hours10, 10)
        return f"{whole}.{tenth}" if tenth else str(whole)

    def basic(self) -> float:
        return self.hours10 / 10 / HOURS_PER_CREDIT[self.mode]


def _ord(year: int, md: tuple[int, int]) -> int:
    return date(year, *md).toordinal()


def _schedule(rng: random.Random, year: int, mode: str, name: str) -> tuple[int, int, bool]:
    if "寒假" in name:
        return _ord(year, (1, 20)), _ord(year, (2, 28)), False
    if "暑期" in name:
        return _ord(year, (7, 10)), _ord(year, (8, 31)), False
    if mode == "集中":  # a session of a few days: everyone completes on its last day
        month = rng.choices(range(1, 13), weights=(3, 1, 2, 3, 3, 2, 4, 4, 2, 3, 3, 2))[0]
        end = date(year, month, rng.randint(3, 28)).toordinal()
        return end - rng.randint(2, 9), end, True
    start = date(year, rng.randint(1, 10), rng.randint(1, 28)).toordinal()
    return start, min(start + rng.randint(30, 100), date(year, 12, 31).toordinal()), False


def _code(counters: dict[str, int], rng: random.Random, prefix: str, year: int) -> str:
    key = f"{prefix}-{year}"
    counters[key] = counters.get(key, 0) + rng.randint(1, 9 if prefix == "HEGS" else 4)
    return f"{key}-{counters[key]:04d}"


def make_projects(rng: random.Random, schools: list[School], years: tuple[int, ...] = YEARS) -> list[Project]:
    """The approved projects of the cycle years `years`."""
    projects: list[Project] = []
    counters: dict[str, int] = {}

    def add(code, name, level, category, mode, hours, year, bucket, stages, school, when, approved=True):
        hours10 = int(round(hours * 10))
        projects.append(
            Project(
                len(projects),
                code,
                name,
                level,
                category,
                mode,
                hours10,
                year,
                approved,
                bucket,
                stages,
                school,
                *when,
            )
        )

    for year in years:
        for (level, category, mode, template, stages, bucket, count), approved in [
            (c, True) for c in CATALOGUE
        ] + [(c, False) for c in UNREGISTERED]:
            subjects = rng.sample(SUBJECTS, count) if "{s}" in template else [""] * count
            for subject in subjects:
                m = mode if mode != "*" else rng.choice(("集中", "网络"))
                name = template.format(y=year, s=subject)
                hours = rng.choice(HOURS[m])
                if level in ("国家级", "自治区级") and m == "集中" and hours < 24:
                    hours = 40  # training away from home is at least several days
                add(
                    _code(counters, rng, LEVEL_PREFIX[level], year),
                    name,
                    level,
                    category,
                    m,
                    hours,
                    year,
                    bucket,
                    stages,
                    None,
                    _schedule(rng, year, m, name),
                    approved,
                )
        for suffix, mode, hours, first, last, fixed in INDUCTION:
            name = f"霍尔果斯市{year}年新入职教师适岗培训（{suffix}）"
            add(
                _code(counters, rng, "HEGS", year),
                name,
                "县市级",
                "适岗",
                mode,
                hours,
                year,
                "ind",
                ALL,
                None,
                (_ord(year, first), _ord(year, last), fixed),
            )
    for school in schools:
        topics = (
            KINDER_TOPICS
            if school.stages == (K,)
            else VOCATIONAL_TOPICS + SCHOOL_TOPICS[:5]
            if school.stages == (V,)
            else SCHOOL_TOPICS
        )
        sessions = SCHOOL_SESSIONS[school.size >= 45]
        for year in years:
            for n, ((term, last), topic) in enumerate(
                zip(sessions, rng.sample(topics, len(sessions)), strict=True), start=1
            ):
                kind = "园本研修" if school.stages == (K,) else "校本研修"
                name = f"{school.name}{year}年{term}学期{kind}：{topic}"
                end = _ord(year, last)
                add(
                    f"XB-{school.code}-{year}-{n:02d}",
                    name,
                    "校级",
                    "校本",
                    "校本",
                    rng.choice(HOURS["校本"]),
                    year,
                    "sb",
                    school.stages,
                    school.index,
                    (end - rng.randint(18, 30), end, False),
                    rng.random() >= 0.025,
                )
    projects.sort(key=lambda p: (p.year, p.school is not None, p.code))
    for i, p in enumerate(projects):
        p.index = i
    return projects


# -- training records -------------------------------------------------------

GRADES = ("不合格", "合格", "良好", "优秀")
GRADE_CUM = (3, 73, 93, 100)


class Pools:
    """Projects by planning bucket and stage, and school projects by school:
    only those anyone can have completed by `until` (a date ordinal), i.e.
    begun by then, and if everyone completes on the last day, ended by then."""

    def __init__(
        self, projects: list[Project], schools: list[School], until: int = DEFAULT_UNTIL.toordinal()
    ):
        self.until = until
        projects = [p for p in projects if p.start <= until and (not p.fixed or p.end <= until)]
        self.by_bucket: dict[tuple[str, str], list[Project]] = {}
        for b in ("pp", "pf", "cp", "cf", "dg", "el", "ind"):
            for st in ALL:
                self.by_bucket[(b, st)] = [p for p in projects if p.bucket == b and st in p.stages]
        self.by_school: dict[int, list[Project]] = {s.index: [] for s in schools}
        for p in projects:
            if p.school is not None:
                self.by_school[p.school].append(p)
        self.lead: dict[str, list[Project]] = {
            st: [
                p
                for p in projects
                if p.level in ("州级", "县市级")
                and p.mode == "集中"
                and p.approved
                and p.category not in ("适岗", "校本")
                and st in p.stages
            ]
            for st in ALL
        }

    def get(self, bucket: str, t: Teacher) -> list[Project]:
        pool = self.by_school[t.school.index] if bucket == "sb" else self.by_bucket[(bucket, t.stage)]
        if t.new:
            pool = [p for p in pool if p.end >= t.hired]
        return pool


def _full_years_share(t: Teacher) -> float:
    """The share of the cycle's requirements the engine asks of this teacher
    (prorate_full_years): full cycle years served ÷ 5, at least one year
    (min_years). It does not depend on `until`: the verdict is against the
    whole cycle."""
    if not t.new:
        return 1.0
    return max(sum(1 for y in YEARS if t.hired <= date(y, 1, 1).toordinal()), 1) / len(YEARS)


class Planner:
    """Chooses one teacher's records: enough for the buckets she aims at,
    deliberately short in one or two when she is one of the stragglers."""

    def __init__(self, rng: random.Random, pools: Pools, t: Teacher):
        self.rng, self.pools, self.t = rng, pools, t
        self.used: set[int] = set()
        self.rows: list[tuple[int, str, str, str]] = []  # (date, code, grade, role)
        self.acc = dict.fromkeys(MINIMUMS, 0.0)

    def grade(self) -> str:
        return self.rng.choices(GRADES, cum_weights=GRADE_CUM)[0]

    def pick(self, pool: list[Project], tries: int = 16) -> Project | None:
        if not pool:
            return None
        rng = self.rng
        for _ in range(tries):
            p = pool[rng.randrange(len(pool))]
            if p.index not in self.used and (p.approved or rng.random() < 0.3):
                return p
        return None

    def when(self, p: Project, last: int | None = None) -> int | None:
        """A completion day: within the project, from the hire date, and not
        after `last` nor the pools' cut-off."""
        lo, hi = max(p.start, self.t.hired), min(p.end, self.pools.until)
        if last is not None:
            hi = min(hi, last)
        if p.fixed:
            return p.end if lo <= p.end <= hi else None
        return self.rng.randint(lo, hi) if lo <= hi else None

    def add(self, p: Project, bucket: str, grade: str, role: str = "学员", on: int | None = None) -> float:
        """Record p and return the credits she believes she earned (an
        unapproved project looks like any other until recognition)."""
        self.used.add(p.index)
        self.rows.append((on if on is not None else self.when(p), p.code, grade, role))
        if grade == "不合格":
            return 0.0
        if role == "主讲":
            credits = p.basic() * (1 + LEAD_REWARD[p.level])
        else:
            credits = p.basic() * (1 + GRADE_REWARD.get(p.level, {}).get(grade, 0.0))
        self.acc[bucket] += credits
        return credits

    def fill(self, bucket: str, target: float, cap: float | None = None) -> None:
        """Take projects of `bucket` until `target` credits; with `cap`, never
        reach it (a teacher who stays short)."""
        pool = self.pools.get(bucket, self.t)
        misses = 0
        while self.acc[bucket] < target and misses < 12:
            p = self.pick(pool)
            on = self.when(p) if p else None
            if p is None or on is None:
                misses += 1
                continue
            grade = self.grade()
            if cap is not None and self.acc[bucket] + p.basic() * 1.15 >= cap:
                misses += 1
                continue
            self.add(p, bucket, grade, on=on)

    def induction(self, target: float) -> None:
        """Induction courses within a year of taking up the post."""
        t = self.t
        hired = date.fromordinal(t.hired)
        last = date(hired.year + 1, hired.month, min(hired.day, 28)).toordinal()
        got = 0.0
        for p in sorted(self.pools.get("ind", t), key=lambda p: (p.end, p.code)):
            if got >= target:
                break
            on = self.when(p, last)
            if on is None:
                continue
            got += self.add(p, "cf", self.rng.choices(GRADES, cum_weights=(1, 75, 94, 100))[0], on=on)

    def lead_trainer(self) -> None:
        for _ in range(self.rng.randint(1, 3)):
            p = self.pick(self.pools.lead[self.t.stage])
            if p is None or self.when(p) is None:
                continue
            bucket = p.bucket
            self.add(p, bucket, "优秀" if self.rng.random() < 0.2 else "合格", role="主讲")


def plan_records(
    rng: random.Random, pools: Pools, t: Teacher, per_teacher: float
) -> list[tuple[int, str, str, str]]:
    plan = Planner(rng, pools, t)
    share = _full_years_share(t)
    active = min(1.0, (CYCLE_END - max(t.hired, CYCLE_START)) / (CYCLE_END - CYCLE_START))
    age = 2024 - t.born.year
    if t.title in ("一级教师", "高级教师", "正高级教师") and age >= 32 and rng.random() < 0.08:
        plan.lead_trainer()
    if t.new:
        plan.induction(
            INDUCTION_CREDITS * (rng.uniform(0.55, 0.95) if rng.random() < 0.1 else rng.uniform(1.0, 1.3))
        )
    short: list[str] = []
    if rng.random() < SHORT_SHARE:
        table = _weighted(SHORT_WEIGHTS)
        short.append(rng.choices(table[0], cum_weights=table[1])[0])
        if rng.random() < 0.25:
            other = rng.choices(table[0], cum_weights=table[1])[0]
            if other not in short:
                short.append(other)
    # Short of elective or school-based credits only counts when the required
    # surplus cannot make up for it: such a teacher did just the required minimum.
    offset_short = "el" in short or "sb" in short
    for bucket in ("pp", "pf", "cp", "cf", "dg", "el", "sb"):
        need = MINIMUMS[bucket] * share
        if bucket in short:
            plan.fill(bucket, need * rng.uniform(0.0 if offset_short else 0.2, 0.8), cap=need)
        else:
            plan.fill(bucket, need * rng.uniform(1.0, 1.04 if offset_short else 1.25))
    # Further records up to her share of the requested volume, never in a
    # bucket she is short of, nor where a surplus would offset it (required
    # credits above 60 make up for elective and school-based ones).
    banned = set(short)
    if "el" in banned or "sb" in banned:
        banned.update(REQUIRED)
    weights = [(b, w) for b, w in EXTRA_WEIGHTS if b not in banned]
    want = round(per_teacher * active * rng.uniform(0.8, 1.2))
    if weights:
        table = _weighted(weights)
        misses = 0
        while len(plan.rows) < want and misses < 20:
            bucket = rng.choices(table[0], cum_weights=table[1])[0]
            p = plan.pick(pools.get(bucket, t))
            on = plan.when(p) if p else None
            if p is None or on is None:
                misses += 1
                continue
            plan.add(p, bucket, plan.grade(), on=on)
    return sorted(plan.rows)


# -- output -----------------------------------------------------------------


def _write(path: Path, header: tuple[str, ...], rows) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow(row)
            n += 1
    return n


def generate(
    out_dir: Path,
    *,
    teachers: int = 2400,
    schools: int = 36,
    seed: int = 7,
    records_per_teacher: float | None = None,
    until: date = DEFAULT_UNTIL,
) -> dict[str, int]:
    """Write roster.csv, projects.csv and records.csv into out_dir, as of
    `until` (nothing completed or hired after it); return the number of data
    rows of each."""
    if teachers < 1 or schools < 1:
        raise ValueError(f"need at least one teacher and one school, got {teachers} and {schools}")
    if until < date(YEARS[0], 1, 1):
        raise ValueError(f"until must be in the cycle ({YEARS[0]}–{YEARS[-1]}) or later, got {until}")
    last = until.toordinal()
    per_teacher = DEFAULT_RECORDS_PER_TEACHER if records_per_teacher is None else float(records_per_teacher)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    school_list = make_schools(rng, schools)
    project_list = make_projects(rng, school_list, tuple(y for y in YEARS if y <= until.year))
    teacher_list = make_teachers(rng, teachers, school_list, last)
    pools = Pools(project_list, school_list, last)

    day: dict[int, str] = {}

    def iso(o: int) -> str:
        s = day.get(o)
        if s is None:
            s = day[o] = date.fromordinal(o).isoformat()
        return s

    counts = {
        "roster.csv": _write(
            out_dir / "roster.csv",
            ROSTER_HEADER,
            (
                (t.name, t.id_number, t.gender, t.school.code, t.school.name, t.stage, iso(t.hired), t.title)
                for t in teacher_list
            ),
        ),
        "projects.csv": _write(
            out_dir / "projects.csv",
            PROJECTS_HEADER,
            (
                (
                    p.code,
                    p.name,
                    p.level,
                    p.category,
                    p.mode,
                    p.hours_text,
                    p.year,
                    "是" if p.approved else "否",
                )
                for p in project_list
            ),
        ),
    }

    def records():
        for t in teacher_list:
            for on, code, grade, role in plan_records(rng, pools, t, per_teacher):
                yield t.id_number, code, grade, role, iso(on)

    counts["records.csv"] = _write(out_dir / "records.csv", RECORDS_HEADER, records())
    return counts


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Write deterministic sample import files (roster, projects, records)."
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--teachers", type=int, default=2400)
    ap.add_argument("--schools", type=int, default=36)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--records-per-teacher",
        type=float,
        default=None,
        help=f"average records per teacher (default {DEFAULT_RECORDS_PER_TEACHER:g})",
    )
    ap.add_argument(
        "--until",
        type=_iso_date,
        default=DEFAULT_UNTIL,
        metavar="YYYY-MM-DD",
        help=f"cut-off: nothing completed or hired after it (default {DEFAULT_UNTIL})",
    )
    args = ap.parse_args(argv)
    counts = generate(
        args.out,
        teachers=args.teachers,
        schools=args.schools,
        seed=args.seed,
        records_per_teacher=args.records_per_teacher,
        until=args.until,
    )
    for name, n in counts.items():
        path = Path(args.out) / name
        print(f"{path}: {n} rows, {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
