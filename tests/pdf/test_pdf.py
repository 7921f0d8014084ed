"""The certificate PDF: what it says, that its QR code scans from a 300 dpi
raster and verifies, that it carries the URL for `ecert verify FILE.pdf`,
that no character renders as a tofu box, and that a missing font is a clear
error rather than a PDF of empty boxes."""

from __future__ import annotations

import re
import subprocess

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from issuer.certificates.qr import qr_version
from issuer.pdf import fonts as fontlib
from issuer.pdf.document import qr_modules
from issuer.pdf.render import figures
from tests.builders import ROSTER_HEADER, id_number, teacher_row
from tests.helpers import show, verify
from tests.pdf.conftest import A, write_pdf
from verifier.qr import verification_url

RARE = "张喆堃"  # in 通用规范汉字表: the cut font has them
OUTSIDE = "陳美玲"  # 陳 is outside the table: only the full font behind the cut one has it


def _text(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _qr_from_raster(path, dpi: int) -> list[str]:
    png = path.with_suffix(f".{dpi}")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(path), str(png)], check=True)
    with Image.open(f"{png}.png") as img:
        # QR codes only: a table rule once read as a 1D barcode ("C7+B")
        return [r.text for r in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)]


def _first_revision(path):
    """The PDF as WeasyPrint wrote it, before the signature's incremental update."""
    data = path.read_bytes()
    first = path.with_name(f"{path.stem}-unsigned.pdf")
    first.write_bytes(data[: data.index(b"%%EOF") + 5])
    return first


def missing_glyph_count(path) -> int:
    """Glyphs shown for characters no font had: .notdef (0000, the tofu
    box) or Pango's unknown-glyph marker (ffff), in any text operator.
    WeasyPrint's fonts are CID fonts shown by 2-byte glyph ids."""
    count = 0
    for page in PdfReader(path).pages:
        data = page.get_contents().get_data().decode("latin-1")
        for hexstr in re.findall(r"<([0-9a-fA-F]+)>", data):
            count += sum(1 for i in range(0, len(hexstr), 4) if hexstr[i : i + 4].lower() in ("0000", "ffff"))
    return count


@pytest.mark.slow
def test_the_qr_code_scans_from_print_resolution_and_verifies(issued, tmp_path):
    path = write_pdf(issued, tmp_path)
    url = show(issued, A)["url"]
    assert _qr_from_raster(path, 300) == [url]
    assert verify(issued, _qr_from_raster(path, 300)[0])["valid"] is True


def test_the_qr_code_scans_from_a_screen_resolution_too(issued, tmp_path):
    assert _qr_from_raster(write_pdf(issued, tmp_path), 96) == [show(issued, A)["url"]]


def test_the_text_has_the_holder_number_totals_and_check_code(issued, tmp_path):
    text = _text(write_pdf(issued, tmp_path))
    cert = show(issued, A)
    for expected in (
        "中小学和幼儿园教师继续教育证书",
        "电子证书",
        "热依拉·阿不都热合曼",
        "654004-07-1-000001-4",
        "霍尔果斯市教育局",
        "90.00",
        "总学分",
        "2028-12-31",
        "周期进行中",
        "以扫码查验结果为准",
    ):
        assert expected in text, expected
    code = cert["check_code"]  # printed in groups of four
    assert f"{code[:4]} {code[4:8]} {code[8:]}" in text
    assert "现行有效" not in text  # a claim that would go stale: the verifier says whether it is current
    assert "**************" in text and re.search(r"\d{17}[\dX]", text) is None  # no full ID number


def test_verify_reads_the_pdf_itself(issued, tmp_path):
    result = verify(issued, str(write_pdf(issued, tmp_path)))
    assert result["valid"] is True and result["certificate"]["number"] == A


def test_metadata_names_the_certificate_and_its_version(issued, tmp_path):
    meta = PdfReader(write_pdf(issued, tmp_path)).metadata
    assert "654004-07-1-000001-4" in meta.title
    assert A in meta.keywords and "version 1" in meta.keywords
    assert A in meta.subject and "霍尔果斯市教育局" in meta.author


def test_rare_and_out_of_table_characters_render_without_tofu(keyed, files, tmp_path):
    ids = [id_number(seq=s) for s in (201, 202)]
    keyed(
        "roster",
        "import",
        str(files.csv("r2.csv", ROSTER_HEADER, [teacher_row(RARE, ids[0]), teacher_row(OUTSIDE, ids[1])])),
    )
    keyed("issue")
    for number, name in (("6540040710000014", RARE), ("6540040710000022", OUTSIDE)):
        path = write_pdf(keyed, tmp_path, number)
        assert name in _text(path)
        assert missing_glyph_count(path) == 0


LONG_SCHOOL = "新疆维吾尔自治区伊犁哈萨克自治州霍尔果斯市" + "第一中学附属实验小学伊犁河谷校区" * 6
MARKUP_SCHOOL = '实验小学 <分校> & "附属" 幼儿园'


@pytest.mark.parametrize("school", [LONG_SCHOOL, MARKUP_SCHOOL])
def test_long_and_markup_text_stays_on_one_page_as_text(keyed, files, tmp_path, school):
    name = "阿卜杜热合曼·买买提明·艾合买提江·阿不都克里木·吐尔洪江·艾力"
    keyed(
        "roster",
        "import",
        str(
            files.csv(
                "r3.csv",
                ROSTER_HEADER,
                [teacher_row(name, id_number(seq=301), school=("6540049999", school))],
            )
        ),
    )
    keyed("issue")
    path = write_pdf(keyed, tmp_path, "6540040710000014")
    assert len(PdfReader(path).pages) == 1
    flat = re.sub(r"\s+", "", _text(path))
    assert name in flat and re.sub(r"\s+", "", school) in flat  # the long name wraps, nothing is cut
    assert missing_glyph_count(path) == 0


def test_the_template_is_read_by_the_xml_parser_and_other_text_by_html5():
    from issuer.pdf.render import _certificate_html

    html = _certificate_html()
    page = '<!DOCTYPE html><html><head><meta charset="utf-8"/></head><body><p>甲 &amp; 乙</p></body></html>'
    assert html(string=page, base_url=".").parsed_as_xml
    broken = html(string=page.replace("甲", "甲\x01"), base_url=".")  # the import refuses such text
    assert not broken.parsed_as_xml and "甲" in "".join(broken.etree_element.itertext())


def test_the_tofu_detector_sees_a_missing_glyph(tmp_path):
    from weasyprint import HTML

    path = tmp_path / "tofu.pdf"
    # A private-use character no installed font draws: WeasyPrint shows glyph 0.
    HTML(string="<p style=\"font-family: 'Noto Sans CJK SC'\">缺\ue000字</p>").write_pdf(path)
    assert missing_glyph_count(path) >= 1


def test_a_missing_font_is_named_with_how_to_install_it(issued, tmp_path, monkeypatch):
    monkeypatch.setattr(fontlib, "SEARCH_DIRS", (str(tmp_path / "nowhere"),))
    result = issued("pdf", A, "-o", str(tmp_path / "x.pdf"), check=False)
    assert result.returncode == 1
    assert "Noto Sans CJK SC" in result.stderr and "fonts-noto-cjk" in result.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_a_late_joiners_page_prints_its_notes_and_stays_one_page(keyed, bureau, files, tmp_path):
    from tests.builders import RECORD_HEADER, record_row

    late = id_number(seq=515)
    keyed(
        "roster",
        "import",
        str(files.csv("late.csv", ROSTER_HEADER, [teacher_row("新来的", late, hired="2025-03-01")])),
    )
    keyed("records", "import", str(files.csv("late-rec.csv", RECORD_HEADER, [record_row(late, "X-PRO")])))
    keyed("issue")
    number = show(keyed, _number_of(keyed, late))["number"]
    path = write_pdf(keyed, tmp_path, number)
    assert len(PdfReader(path).pages) == 1
    text = " ".join(_text(path).split())
    assert "最低要求*" in text and "*周期内入职教师" in text  # the prorated minimums are marked and said
    assert "2025-03-01 入职" in text and "新教师适岗培训" in text  # the sheet's notes, on her own document
    assert verify(keyed, _qr_from_raster(path, 300)[0])["valid"]  # the QR code is still on the page


def _number_of(run, idn: str) -> str:
    import json

    return json.loads(run("credits", idn, "--json").stdout)["certificate_number"]


def test_a_revoked_certificate_has_no_pdf_to_hand_out(issued, tmp_path):
    issued("revoke", A, "--reason", "测试")
    result = issued("pdf", A, "-o", str(tmp_path / "x.pdf"), check=False)
    assert result.returncode == 3 and "已撤销" in result.stderr and not (tmp_path / "x.pdf").exists()


def test_a_missing_harfbuzz_subsetter_is_named(monkeypatch):
    monkeypatch.setattr(fontlib.ctypes.util, "find_library", lambda name: None)
    with pytest.raises(fontlib.FontMissing, match="libharfbuzz-subset0"):
        fontlib.require_harfbuzz_subset()


def test_the_two_regular_cuts_hold_the_whole_character_table(tmp_path):
    from fontTools.ttLib import TTFont

    fonts = fontlib.prepare(tmp_path)
    common, rare = TTFont(fonts.regular).getBestCmap(), TTFont(fonts.rare).getBestCmap()
    table = fontlib.characters()[:8105]
    assert len(table) == 8105 and all(ord(ch) in common or ord(ch) in rare for ch in table)
    assert all(ord(ch) in common for ch in table[:3500])  # level one: most names need no second font
    assert ord("喆") in rare and ord("喆") not in common
    assert ord("·") in common and ord("陳") not in common and ord("陳") not in rare


def test_one_page_of_a4(issued, tmp_path):
    page = PdfReader(write_pdf(issued, tmp_path)).pages
    assert len(page) == 1
    w, h = float(page[0].mediabox.width), float(page[0].mediabox.height)
    assert (round(w), round(h)) == (595, 842)


def test_every_stream_is_deflated(issued, tmp_path):
    """The renderer deflates pydyf's streams itself (issuer/pdf/render.py):
    none may be left raw, and each must inflate. (The first revision, as
    WeasyPrint wrote it: the signature's update after it is pyHanko's.)"""

    from pypdf.generic import StreamObject

    reader = PdfReader(_first_revision(write_pdf(issued, tmp_path)))
    streams = [
        obj
        for num in range(1, reader.trailer["/Size"])
        if isinstance(obj := reader.get_object(num), StreamObject)
    ]
    assert len(streams) >= 5  # page, QR code, fonts, their maps, the attachment
    for obj in streams:
        if obj.get("/Type") == "/XRef":
            continue
        assert obj.get("/Filter") == "/FlateDecode", obj
        assert obj.get_data()


@pytest.mark.parametrize("token_chars", [40, 300, 420])
def test_the_qr_symbol_is_the_smallest_alphanumeric_level_m_version(token_chars):
    """The symbol comes from zxing-cpp's encoder; its size must be what the
    capacity table of alphanumeric mode at level M gives (byte mode or a
    higher level would need a larger version), and it must decode back."""
    url = verification_url(
        "HTTPS://ECERT.HORGOS.EDU.CN", ("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" * 14)[:token_chars]
    )
    modules = qr_modules(url)
    assert len(modules) == len(modules[0]) == 17 + 4 * qr_version(url)
    scale, quiet = 4, 4
    side = (len(modules) + 2 * quiet) * scale
    img = Image.new("L", (side, side), 255)
    for r, row in enumerate(modules):
        for c, dark in enumerate(row):
            if dark:
                img.paste(
                    0,
                    (
                        (c + quiet) * scale,
                        (r + quiet) * scale,
                        (c + quiet + 1) * scale,
                        (r + quiet + 1) * scale,
                    ),
                )
    decoded = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [d.text for d in decoded] == [url] and decoded[0].extra["ECLevel"] == "M"


def _embedded_fonts(path) -> set[str]:
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return {line.split()[0].split("+", 1)[-1] for line in out.splitlines()[2:]}


def test_a_typical_page_embeds_only_the_two_cut_fonts(issued, tmp_path):
    """Bold text must stay inside the bold cut's vocabulary: a fallback to
    the full font would cost a 20 MB subset on every PDF. (WeasyPrint's
    revision: the signature's widget after it names Courier, a standard
    font readers have, and embeds nothing.)"""
    path = _first_revision(write_pdf(issued, tmp_path))
    assert _embedded_fonts(path) == {"ECert-Sans", "ECert-Sans-Bold"}
    assert _embedded_programs(path) == {"ECert-Sans": "Regular", "ECert-Sans-Bold": "Bold"}


def _embedded_programs(path) -> dict[str, str]:
    """Each embedded font's weight as its own program names it. fontconfig
    may match bold text to the regular cut, emboldened, when it ranks the
    bold cut's coverage lower: the PDF still names it ...-Bold."""
    import io

    from fontTools.ttLib import TTFont

    out = {}
    for ref in PdfReader(path).pages[0]["/Resources"]["/Font"].values():
        font = ref.get_object()
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        program = TTFont(io.BytesIO(descriptor["/FontFile3"].get_object().get_data()))
        out[str(font["/BaseFont"]).split("+", 1)[-1]] = program["name"].getDebugName(2)
    return out


def test_the_bold_cut_holds_the_templates_bold_vocabulary():
    chars = set(fontlib.emphasis_characters())
    assert set("中小学和幼儿园教师继续教育证书周期进行中不合格州级及以上合计霍尔果斯市教育局普陀区") <= chars
    assert set("0123456789-ABCDEFGHJKLMNPQRTUWXY·") <= chars
    assert len([c for c in chars if "\u4e00" <= c <= "\u9fff"]) < 600  # a closed vocabulary, not the table


def test_the_credit_tables_columns_line_up(issued, tmp_path):
    """The status column of the credit table starts at one x on every row
    (within 0.3 pt), whatever the width of the row's label (render.label)."""
    out = subprocess.run(
        ["pdftotext", "-bbox", str(write_pdf(issued, tmp_path)), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    words = [(float(x), w) for x, w in re.findall(r'xMin="([\d.]+)"[^>]*>([^<]+)<', out)]
    credits = words[
        next(i for i, (_, w) in enumerate(words) if w == "学分认定") : next(
            i for i, (_, w) in enumerate(words) if w == "年度学分"
        )
    ]
    marks = [x for x, w in credits if w in ("达标", "未达")]  # the last column: each row's status
    assert len(marks) == 11 and max(marks) - min(marks) < 0.3, marks


def test_figures_pad_numbers_to_line_up_on_the_right():
    assert figures("3.72") == "\u2007\u2007" + "3.72"
    assert figures("120.16") == "120.16"
    assert figures("—") == "\u2007" * 4 + "—"
    assert figures("1234.50") == "1234.50"  # wider than the column: never cut
