"""The signed PDFs teachers download, kept by render key in the data folder.

The web process never holds a private key, so it cannot sign: on a miss it
asks a worker (issuer/office/tasks.py, `ecert.pdf.one`) to render and sign
the certificate into the cache, and waits a little for the file. Both sides
name the file the same way, from what the PDF depends on (the render key)
and the certificate of the PDF-signing key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import Engine, select

from issuer.certificates.docsigning import DocumentKey
from issuer.certificates.keystore import Keystore
from issuer.config import Settings
from verifier.profiles import RulesProfile

from ..db import read_session
from ..errors import NotFound
from ..models import Certificate
from .batch import MANIFEST, render_key, style_digest, write_atomically
from .document import Certified, view
from .render import Renderer
from .sealing import Sealer

FOLDER = "pdf-cache"
# Where render jobs and the first run's `ecert render` write <number>.pdf, with
# their manifest (number → render key): issuer/office/jobs.py pdf_dir.
RENDERED = "pdfs"


def document_key(engine: Engine, settings: Settings, bureau: str) -> DocumentKey:
    """The active PDF-signing key's public part (no private key is opened)."""
    with read_session(engine) as session:
        return Keystore(settings.keys_dir, settings.actor).document_key(session, bureau)


def cache_path(settings: Settings, cert: Certified, number: str, state: str, digest: str) -> Path:
    key = render_key(cert.token, state, cert.check_code, cert.summary, settings.base_url, digest)
    return settings.data_dir / FOLDER / f"{number}-{key[:20]}.pdf"


def rendered_path(settings: Settings, cert: Certified, number: str, state: str, digest: str) -> Path | None:
    """The PDF a render batch already made of this very certificate (its
    manifest holds the same render key), if any: no second rendering."""
    key = render_key(cert.token, state, cert.check_code, cert.summary, settings.base_url, digest)
    folder = settings.data_dir / RENDERED
    path = folder / f"{number}.pdf"
    return path if _manifest(folder).get(number) == key and path.is_file() else None


_manifests: dict[Path, tuple[float, dict[str, str]]] = {}


def _manifest(folder: Path) -> dict[str, str]:
    """The folder's manifest, read again only when it changed."""
    path = folder / MANIFEST
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    cached = _manifests.get(folder)
    if cached is None or cached[0] != mtime:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        cached = _manifests[folder] = (mtime, data if isinstance(data, dict) else {})
    return cached[1]


_digests: dict[tuple[str, str], str] = {}
_renderers: dict[str, Renderer] = {}


def digest_for(settings: Settings, key: DocumentKey) -> str:
    """style_digest, kept per process: fonts and template do not change under it."""
    k = (str(settings.data_dir), key.fingerprint)
    if k not in _digests:
        _digests[k] = style_digest(settings.data_dir / "fonts", key)
    return _digests[k]


def render_to_cache(engine: Engine, settings: Settings, profile: RulesProfile, number: str) -> Path:
    """In a worker: the current certificate of `number`, rendered and signed
    into the cache (nothing done if it is there already)."""
    with read_session(engine) as session:
        cert = session.scalars(
            select(Certificate).where(Certificate.number == number, Certificate.state == "current")
        ).first()
    if cert is None:
        raise NotFound(f"证书 {number} 没有现行版本", f"{number} has no current version")
    key = document_key(engine, settings, profile.issuer_code)
    path = cache_path(settings, cert, cert.number, cert.state, digest_for(settings, key))
    if path.is_file():
        return path
    renderer = _renderers.get(key.fingerprint)
    if renderer is None:
        for old in _renderers.values():
            old.close()
        _renderers.clear()
        sealer = Sealer(key, profile.issuer_name)
        renderer = _renderers[key.fingerprint] = Renderer(settings.data_dir / "fonts", sealer=sealer)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, renderer.render(view(cert, profile, settings.base_url)))
    os.chmod(path, 0o600)
    return path
