"""Rendering one certificate to PDF with WeasyPrint.

A Renderer is made once per process: it holds WeasyPrint's font
configuration, the parsed stylesheet and the template, which are most of
the cost of a cold render. The verification URL is embedded as a PDF
attachment so `ecert verify FILE.pdf` reads it without the image.
"""
from __future__ import annotations

import atexit
import hashlib
import shutil
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from verifier.inputs import TOKEN_ATTACHMENT

from . import fonts as fontlib
from .document import CertificateView

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
TEMPLATE, STYLESHEET = "certificate.html", "certificate.css"


class Renderer:
    def __init__(self, font_cache: Path, templates: Path = TEMPLATES) -> None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration
        self.fonts = fontlib.prepare(font_cache)
        self.env = Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(["html"]),
                               undefined=StrictUndefined)
        self.template = self.env.get_template(TEMPLATE)
        self.font_config = FontConfiguration()
        css = _font_faces(self.fonts) + (templates / STYLESHEET).read_text(encoding="utf-8")
        self.css = CSS(string=css, font_config=self.font_config)
        atexit.register(self.close)
        self.digest = hashlib.sha256(
            ((templates / TEMPLATE).read_text("utf-8") + css + self.fonts.digest).encode()).hexdigest()[:16]

    def close(self) -> None:
        """Remove WeasyPrint's temporary font folder now: its own __del__
        fails noisily when it runs at interpreter exit."""
        folder = getattr(self.font_config, "_folder", None)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
            self.font_config._folder = None

    def cache_key(self, view: CertificateView) -> str:
        """The PDF's identity: what it says, the template and the fonts."""
        return hashlib.sha256(f"{view.content_hash()}:{self.digest}".encode()).hexdigest()

    def render(self, view: CertificateView) -> bytes:
        from weasyprint import HTML, Attachment
        html = self.template.render(c=view)
        return HTML(string=html, base_url=str(TEMPLATES)).write_pdf(
            stylesheets=[self.css], font_config=self.font_config,
            attachments=[Attachment(string=view.url, name=TOKEN_ATTACHMENT,
                                    description="证书查验网址 verification URL")])


def _font_faces(fonts: fontlib.Fonts) -> str:
    return "".join(
        f'@font-face {{ font-family: "ECert Sans"; font-weight: {w}; src: url("{p.as_uri()}"); }}\n'
        for w, p in (("normal", fonts.regular), ("bold", fonts.bold)))
