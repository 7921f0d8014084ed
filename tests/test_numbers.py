import pytest

from verifier.numbers import CertificateNumber, NumberFormatError, mask_id_number, mod11_2


@pytest.mark.parametrize(
    "body, full",
    [
        ("654004071000123", "6540040710001236"),
        ("654004071000001", "6540040710000014"),
        ("654004071001234", "6540040710012349"),
    ],
)
def test_check_character_matches_the_contract_vectors(body, full):
    assert body + mod11_2(body) == full
    assert CertificateNumber.parse(full).compact == full


def test_mod11_2_is_the_national_id_algorithm():
    # GB 11643's published example: 11010519491231002X
    assert mod11_2("11010519491231002") == "X"


def test_printed_form_and_parse_round_trip():
    n = CertificateNumber("654004", 7, 1, 123)
    assert n.printed == "654004-07-1-000123-6"
    assert CertificateNumber.parse(n.printed) == n
    assert CertificateNumber.parse("654004 07 1 000123 6") == n


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("6540040710001235", "expected 6"),
        ("654004071000123", "16 characters"),
        ("65400407100012A6", "15 digits"),
        ("\u00b2540040710001236", "15 digits"),  # a superscript two: isdigit(), but not 0-9
        ("\u2465540040710001236", "15 digits"),  # a circled six is not a full-width digit either
        ("654004071000123\u2169", "check character"),  # Roman numeral ten is not X
        ("\u0666540040710001236", "15 digits"),  # an Arabic-Indic six
    ],
)
def test_a_wrong_number_is_refused_with_the_reason(text, fragment):
    with pytest.raises(NumberFormatError, match=fragment):
        CertificateNumber.parse(text)


def test_lowercase_x_check_character_is_accepted():
    n = next(
        CertificateNumber("654004", 7, 1, s)
        for s in range(1, 100)
        if CertificateNumber("654004", 7, 1, s).compact.endswith("X")
    )
    assert CertificateNumber.parse(n.compact.lower()) == n


def test_masking_keeps_only_the_last_four():
    assert mask_id_number("11010519491231002X") == "**************002X"


def test_full_width_digits_and_dashes_are_the_same_number():
    # what a Chinese input method types in full-width mode
    assert CertificateNumber.parse("６５４００４－０７－１－０００１２３－６").compact == "6540040710001236"
    assert CertificateNumber.parse("６５４００４　０７　１　０００１２３　６").compact == "6540040710001236"
