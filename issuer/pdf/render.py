"""Rendering one certificate to PDF with WeasyPrint.

A Renderer is made once per process: it holds WeasyPrint's font
configuration, the parsed stylesheet and the template, which are most of
the cost of a cold render. The verification URL is embedded as a PDF
attachment so `ecert verify FILE.pdf` reads it without the image.

Two things are done outside WeasyPrint's usual path, for speed (see
benchmarks/bench_render.py): the template's closed set of elements gets a
small user-agent stylesheet instead of the whole HTML5 one (a fifth of the
layout time), and the QR code is drawn as vector rectangles straight into
the page's content stream where the template leaves its box (an SVG of the
same code cost a quarter of the page: WeasyPrint parses paths in Python).
The template itself is written for speed too: see its stylesheet's head.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from verifier.inputs import TOKEN_ATTACHMENT
from verifier.profiles import available_profiles, load_profile
from verifier.resources import templates_dir
from verifier.vocab import BUCKET_LABELS, BUCKETS

from . import fonts as fontlib
from .document import CertificateView

if TYPE_CHECKING:
    from .sealing import Sealer

# WeasyPrint, pydyf and cssselect2 have no types: their objects (documents,
# boxes, PDF objects) are Any here.

TEMPLATE, STYLESHEET = "certificate.html", "certificate.css"


class Renderer:
    """`sealer`: signs each PDF as a PDF (issuer/pdf/sealing.py), its widget
    on the printed seal; every certificate PDF the bureau hands out is
    signed, and only benchmarks and layout tests render without."""

    def __init__(self, font_cache: Path, templates: Path | None = None, sealer: Sealer | None = None) -> None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.fonts = fontlib.prepare(font_cache)
        self.templates = templates = templates or templates_dir()
        self.env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )
        self.env.filters["figures"] = figures
        self.env.filters["label"] = label
        self.template = self.env.get_template(TEMPLATE)
        self.sealer = sealer
        self.font_config = FontConfiguration()
        css = _font_faces(self.fonts) + (templates / STYLESHEET).read_text(encoding="utf-8")
        self.css = CSS(string=css, font_config=self.font_config)
        atexit.register(self.close)

    def close(self) -> None:
        """Remove WeasyPrint's temporary font folder now: its own __del__
        fails noisily when it runs at interpreter exit."""
        folder = getattr(self.font_config, "_folder", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
            self.font_config._folder = None

    def render(self, view: CertificateView) -> bytes:
        from weasyprint import Attachment

        # Whitespace between tags is text to WeasyPrint's parser and box builder:
        # squeezing it out saves a few ms a page (values are escaped: no '<').
        html = BETWEEN_TAGS.sub("><", self.template.render(c=view))
        document = _certificate_html()(string=html, base_url=str(self.templates)).render(
            stylesheets=[self.css], font_config=self.font_config
        )
        first = document.pages[0]
        page = first._page_box
        box = _box_by_id(page, QR_BOX_ID)
        pdf: bytes = document.write_pdf(
            finisher=_finisher(view.qr, box),
            attachments=[
                Attachment(
                    string=view.url, name=TOKEN_ATTACHMENT, description="证书查验网址 verification URL"
                )
            ],
        )
        if self.sealer is not None:
            pdf = self.sealer.seal(pdf, _pdf_rect(_box_by_id(page, SEAL_BOX_ID), first.height))
        return pdf


QR_BOX_ID, SEAL_BOX_ID = "qr", "seal"
QUIET_ZONE = 4  # modules of white around the code, as the standard asks
PX_TO_PT = 0.75
UA_STYLESHEET = """
head, title, meta { display: none }
html, body, div, p, h1, h2, header, footer, section { display: block }
table { display: table; border-collapse: separate; border-spacing: 0 }
thead { display: table-header-group } tbody { display: table-row-group }
tr { display: table-row } td, th { display: table-cell; vertical-align: middle }
th { font-weight: bold } strong { font-weight: bold } small { font-size: smaller }
br::before { content: "\\A"; white-space: pre-line }
"""


@functools.cache
def _certificate_html() -> type[Any]:
    """HTML with the small user-agent stylesheet the template needs (made on
    first use: importing WeasyPrint is slow), read by the XML parser."""
    import cssselect2
    from weasyprint import CSS, HTML

    ua = CSS(string=UA_STYLESHEET)

    class CertificateHTML(HTML):  # type: ignore[misc]  # HTML is Any: WeasyPrint has no types
        """The template is well-formed XHTML: expat (C) reads it in 0.1 ms,
        where the HTML5 parser (pure Python) took 4 ms a page. Text that
        is not well-formed (a control character in a name, say) goes to
        the HTML5 parser as before."""

        def __init__(self, string: str, base_url: str) -> None:
            try:
                root = ElementTree.fromstring(string)
            except ElementTree.ParseError:
                super().__init__(string=string, base_url=base_url)
                self.parsed_as_xml = False
                return
            super().__init__(string=EMPTY_PAGE, base_url=base_url)  # the rest of HTML's set-up
            self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
            self.etree_element = self.wrapper_element.etree_element
            self.parsed_as_xml = True

        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            return [ua]

    return CertificateHTML


EMPTY_PAGE = "<html></html>"


FIGURE_SPACE = "\u2007"  # as wide as a digit
FIGURE_WIDTH = 6  # up to 999.99


def figures(value: object, width: int = FIGURE_WIDTH) -> str:
    """A number padded on the left with figure spaces, so that a column of
    them lines up on the right at a tab stop; a dash stands for about two
    digits."""
    text = str(value)
    used = 2 if text == "—" else len(text)
    return FIGURE_SPACE * max(0, width - used) + text


IDEOGRAPHIC_SPACE = "\u3000"  # as wide as a Chinese character
# The widest bucket label of any published profile (a region may name its levels its own way).
LABEL_WIDTH = max(
    len(load_profile(p).bucket_label(b)) if p else len(BUCKET_LABELS[b])
    for p in ["", *available_profiles()]
    for b in BUCKETS
)


def label(value: str, width: int = LABEL_WIDTH) -> str:
    """A table's first column padded with ideographic spaces to one width.

    WeasyPrint 70 draws a tab 1.024 times as wide as Pango laid it out: its
    empty-glyph advance skips the 1000/1024 scaling its other glyphs get. So
    the text after a tab lands 2.4 % of the tab's width too far right, and
    rows whose first cell differs in width lose their columns' alignment
    (0.2 pt per character: 选修 stood 1.6 pt right of 州级及以上·公共课). With
    every first cell as wide, every first tab is as wide too, and so is the
    error. Every character of the labels is one em, ·  too."""
    return value + IDEOGRAPHIC_SPACE * max(0, width - len(value))


def _box_by_id(root: Any, element_id: str) -> Any:
    for box in root.descendants(placeholders=True):  # the QR box is absolutely positioned
        element = getattr(box, "element", None)
        if element is not None and element.get("id") == element_id:
            return box
    raise ValueError(f"the template has no element with id {element_id!r} for the QR code")


def _pdf_rect(box: Any, page_height: float) -> tuple[float, float, float, float]:
    """A layout box's border box in PDF points (origin bottom left)."""
    x, y = box.border_box_x() * PX_TO_PT, box.border_box_y() * PX_TO_PT
    w, h = box.border_width() * PX_TO_PT, box.border_height() * PX_TO_PT
    top = page_height * PX_TO_PT
    return (round(x, 2), round(top - y - h, 2), round(x + w, 2), round(top - y, 2))


def _finisher(modules: tuple[tuple[bool, ...], ...], box: Any) -> Callable[[Any, Any], None]:
    """WeasyPrint's finisher: the QR code, then every stream deflated."""

    def finish(document: Any, pdf: Any) -> None:
        _draw_qr(pdf, modules, box)
        _deflate_streams(pdf)

    return finish


def _draw_qr(pdf: Any, modules: tuple[tuple[bool, ...], ...], box: Any) -> None:
    """The QR code on the page as filled rectangles, one per run of dark
    modules in a row, in module units: one transform maps them to the box
    (PDF points, origin bottom left, rows downwards)."""
    import pydyf

    page = pdf.objects[pdf.pages["Kids"][0]]
    height_pt = float(page["MediaBox"][3])
    size = min(box.width, box.height) * PX_TO_PT / (len(modules) + 2 * QUIET_ZONE)
    x0, top = box.content_box_x() * PX_TO_PT, height_pt - box.content_box_y() * PX_TO_PT
    ops = ["q", "0 0 0 rg", f"{size:.4f} 0 0 {-size:.4f} {x0:.3f} {top:.3f} cm"]
    for r, row in enumerate(modules, QUIET_ZONE):
        ops += [f"{c + QUIET_ZONE} {r} {length} 1 re" for c, length in _runs(row)]
    ops += ["f", "Q"]
    stream = pydyf.Stream(["\n".join(ops)], compress=True)
    pdf.add_object(stream)
    # First, while the user space is still PDF's default (WeasyPrint's own
    # stream leaves its flip in place); the template keeps the box clear.
    page["Contents"] = pydyf.Array([stream.reference, page["Contents"]])


DEFLATE_LEVEL = 6


def _deflate_streams(pdf: Any) -> None:
    """Compress the streams pydyf would deflate at level 9 at level 6: a
    third of the time (about 5 ms a page) for 0.5 % more bytes
    (benchmarks/bench_render.py). Reads pydyf's stream items as its own
    `Stream.data` does; should that change, the PDF tests fail."""
    import zlib

    import pydyf

    for obj in pdf.objects:
        if isinstance(obj, pydyf.Stream) and obj.compress:
            raw = b"\n".join(pydyf._to_bytes(item) for item in obj.stream)
            obj.stream, obj.compress = [zlib.compress(raw, DEFLATE_LEVEL)], False
            obj.extra["Filter"] = "/FlateDecode"


DARK_RUN = re.compile(b"\x01+")
BETWEEN_TAGS = re.compile(r">\s+<")


def _runs(row: tuple[bool, ...]) -> Iterator[tuple[int, int]]:
    """(start, length) of each run of dark modules in a row of booleans."""
    for m in DARK_RUN.finditer(bytes(row)):
        yield m.start(), m.end() - m.start()


def style_digest(font_digest: str, templates: Path | None = None) -> str:
    """The template's, stylesheet's and fonts' part of a PDF's render key."""
    templates = templates or templates_dir()
    h = hashlib.sha256(font_digest.encode())
    for name in (TEMPLATE, STYLESHEET):
        h.update((templates / name).read_bytes())
    return h.hexdigest()[:16]


def _font_faces(fonts: fontlib.Fonts) -> str:
    return "".join(
        f'@font-face {{ font-family: "{family}"; font-weight: {w}; src: url("{p.as_uri()}"); }}\n'
        for family, w, p in (
            ("ECert Sans", "normal", fonts.regular),
            ("ECert Sans", "bold", fonts.bold),
            ("ECert Sans Rare", "normal", fonts.rare),
        )
    )
