"""The signed PDFs teachers download, kept by render key in the service's
store (issuer/storage.py: the data folder, or the database every machine
shares).

The web process never holds a private key, so it cannot sign: on a miss it
asks a worker (issuer/office/tasks.py, `ecert.pdf.one`) to render and sign
the certificate into the cache, and waits a little for it. Both sides
name the object the same way, from what the PDF depends on (the render key)
and the certificate of the PDF-signing key; the worker may be on another
machine, which is why the cache is in the shared store.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from issuer.certificates.docsigning import DocumentKey
from issuer.certificates.keystore import Keystore
from issuer.config import Settings
from verifier.profiles import RulesProfile

from ..db import read_session
from ..errors import NotFound
from ..models import Certificate
from ..storage import Storage, storage_for
from .batch import RENDERED, render_key, style_digest
from .document import Certified, view
from .render import Renderer
from .sealing import Sealer

FOLDER = "pdf-cache/"


def document_key(engine: Engine, settings: Settings, bureau: str) -> DocumentKey:
    """The active PDF-signing key's public part (no private key is opened)."""
    with read_session(engine) as session:
        return Keystore(settings.keys_dir, settings.actor).document_key(session, bureau)


def cache_key(settings: Settings, cert: Certified, number: str, state: str, digest: str) -> str:
    """The cached PDF's key in the store."""
    key = render_key(cert.token, state, cert.check_code, cert.summary, settings.base_url, digest)
    return f"{FOLDER}{number}-{key[:20]}.pdf"


def rendered_key(
    store: Storage, settings: Settings, cert: Certified, number: str, state: str, digest: str
) -> str | None:
    """The PDF a render batch already made of this very certificate (its
    tag in the store is the same render key), if any: no second rendering."""
    key = render_key(cert.token, state, cert.check_code, cert.summary, settings.base_url, digest)
    stored = f"{RENDERED}{number}.pdf"
    stat = store.stat(stored)
    return stored if stat is not None and stat.tag == key else None


_digests: dict[tuple[str, str], str] = {}
_renderers: dict[str, Renderer] = {}


def digest_for(settings: Settings, key: DocumentKey) -> str:
    """style_digest, kept per process: fonts and template do not change under it."""
    k = (str(settings.data_dir), key.fingerprint)
    if k not in _digests:
        _digests[k] = style_digest(settings.data_dir / "fonts", key)
    return _digests[k]


def render_to_cache(engine: Engine, settings: Settings, profile: RulesProfile, number: str) -> str:
    """In a worker: the current certificate of `number`, rendered and signed
    into the cache (nothing done if it is there already); its key in the store."""
    with read_session(engine) as session:
        cert = session.scalars(
            select(Certificate).where(Certificate.number == number, Certificate.state == "current")
        ).first()
    if cert is None:
        raise NotFound(f"证书 {number} 没有现行版本", f"{number} has no current version")
    key = document_key(engine, settings, profile.issuer_code)
    store = storage_for(settings, engine)
    stored = cache_key(settings, cert, cert.number, cert.state, digest_for(settings, key))
    if store.exists(stored):
        return stored
    renderer = _renderers.get(key.fingerprint)
    if renderer is None:
        for old in _renderers.values():
            old.close()
        _renderers.clear()
        sealer = Sealer(key, profile.issuer_name)
        renderer = _renderers[key.fingerprint] = Renderer(settings.data_dir / "fonts", sealer=sealer)
    store.put(stored, renderer.render(view(cert, profile, settings.base_url)))
    return stored
