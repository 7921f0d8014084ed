"""A region names its levels its own way: a Putuo (Shanghai district)
certificate reads 市级及以上 and 区级 where Horgos's reads 州级及以上 and
县市级, on the page, in the JSON's shortfalls, on the PDF and in the
office, because every label comes from the certificate's own profile."""

from __future__ import annotations

from tests.certs.tokens import claims
from verifier.profiles import load_profile
from verifier.reading import read_credits

PUTUO, HORGOS = load_profile("putuo-14"), load_profile("horgos-7")


def test_a_putuo_reading_speaks_of_its_own_levels():
    c = claims(issuer="310107", cycle=14, credits=(100, 0, 100, 0, 0, 0, 0, 200), status=0)
    reading = read_credits(c, PUTUO)
    labels = " ".join(row.label for row in reading.buckets)
    assert "区级·公共课" in labels and "市级及以上·公共课" in labels
    assert "州级" not in labels and "县市级" not in labels


def test_horgos_keeps_the_vocabulary_s_words():
    reading = read_credits(claims(), HORGOS)
    labels = [row.label for row in reading.buckets]
    assert "州级及以上·公共课" in labels and "县市级·公共课" in labels


def test_every_profile_label_can_be_set_in_the_certificate_s_bold_face():
    from issuer.pdf import fonts

    bold = set(fonts.emphasis_characters())
    for label in PUTUO.labels.values():
        assert set(label) <= bold, label
