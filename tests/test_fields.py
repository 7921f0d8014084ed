from datetime import date
from decimal import Decimal

import pytest

from issuer.ledger.importing import fields as f
from tests.builders import id_number


def test_valid_id_number_passes_and_lowercase_x_is_normalised():
    assert f.id_number("11010519491231002x") == "11010519491231002X"


def test_a_full_width_id_number_is_stored_in_ascii():
    # one person, one record: the same number typed full-width must not be a second teacher
    assert f.id_number("１１０１０５１９４９１２３１００２Ｘ") == "11010519491231002X"
    assert f.year("２０２５年") == 2025


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("110105194912310021", "校验位错误：应为 X"),
        ("11010519491231002", "18 位"),
        ("1101051949123100AX", "前 17 位"),
        ("110105194913310025", "出生日期"),
        (110105194912310020, "存为数字"),
        ("", "不能为空"),
        ("\u066110105194912310020", "前 17 位"),  # an Arabic-Indic one: isdigit(), not 0-9
    ],
)
def test_bad_id_numbers_are_named(value, fragment):
    with pytest.raises(f.FieldError) as e:
        f.id_number(value)
    assert fragment in e.value.message


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),  # bullet
        ("阿依古丽・买买提", "阿依古丽·买买提"),  # katakana middle dot
        ("努尔兰 · 别克波拉提", "努尔兰·别克波拉提"),
        ("张喆", "张喆"),
        ("𠮷野", "𠮷野"),  # CJK extension B
        ("穆罕默德·阿不都热合曼·艾则孜江·买买提明", "穆罕默德·阿不都热合曼·艾则孜江·买买提明"),
    ],
)
def test_names_as_rosters_write_them(raw, expected):
    assert f.person_name(raw) == expected


@pytest.mark.parametrize("raw", ["张3", "·买买提", "阿依古丽··买买提", "张三!", "  "])
def test_bad_names_are_refused(raw):
    with pytest.raises(f.FieldError):
        f.person_name(raw)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2024-05-01", date(2024, 5, 1)),
        ("2024/5/1", date(2024, 5, 1)),
        ("2024年5月1日", date(2024, 5, 1)),
        ("2024-05-01 00:00:00", date(2024, 5, 1)),
    ],
)
def test_dates(raw, expected):
    assert f.a_date(raw, what="完成日期") == expected


@pytest.mark.parametrize("raw", ["2024-02-30", "01/05/2024", "yesterday", "1900-01-01"])
def test_bad_dates(raw):
    with pytest.raises(f.FieldError):
        f.a_date(raw, what="完成日期")


@pytest.mark.parametrize("raw, expected", [("8", "8.00"), ("2.5", "2.50"), (12.5, "12.50"), (40, "40.00")])
def test_hours(raw, expected):
    assert f.hours(raw) == Decimal(expected)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("0", "大于 0"),
        ("-4", "大于 0"),
        ("2.345", "两位小数"),
        ("abc", "数字"),
        ("NaN", "应为数字"),
        ("Infinity", "应为数字"),
        ("-inf", "应为数字"),
    ],
)
def test_bad_hours(raw, fragment):
    with pytest.raises(f.FieldError) as e:
        f.hours(raw)
    assert fragment in e.value.message


def test_choice_accepts_labels_codes_and_synonyms_and_lists_labels_when_wrong():
    c = f.options(("good", "良好"), ("pass", "合格"), synonyms={"及格": "pass"})
    assert f.choice("良好", c, what="考核等次") == "good"
    assert f.choice(" Good ", c, what="考核等次") == "good"
    assert f.choice("及格", c, what="考核等次") == "pass"
    with pytest.raises(f.FieldError) as e:
        f.choice("很好", c, what="考核等次")
    assert "良好 合格" in e.value.message and "及格" not in e.value.message


def test_builder_ids_are_valid():
    assert f.id_number(id_number())


@pytest.mark.parametrize("raw", ["实验小学\x01分校", "实验\x7f小学", "小\x85学"])
def test_text_with_control_characters_is_refused_naming_them(raw):
    with pytest.raises(f.FieldError, match="control character") as e:
        f.text(raw, max_len=200, what="学校名称")
    assert "学校名称" in e.value.message and "U+" in e.value.message


def test_text_keeps_line_breaks_and_tabs_inside_a_cell():
    assert f.text(" 第一行\n第二行\t完 ", max_len=50, what="项目名称") == "第一行\n第二行\t完"
