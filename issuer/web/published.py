"""What the bureau publishes for verifiers that run apart from it: the
signed status snapshot (`ecert status export --publish`), served from the
shared store by every web server, so verifier instances with
ECERT_STATUS=snapshot (or a CDN in front of them) can point at this URL.
Conditional GETs (ETag, Last-Modified) let them refresh cheaply."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request
from werkzeug.wsgi import wrap_file

from issuer.certificates.snapshot import STORED_AT

from ..storage import storage_for
from .context import engine, settings

bp = Blueprint("published", __name__)
MAX_AGE = 60  # seconds a cache may keep it: within a verifier's refresh interval
CHUNK = 256 * 1024


@bp.get("/.well-known/status-snapshot.json")
def status_snapshot() -> Response:
    store = storage_for(settings(), engine())
    stat = store.stat(STORED_AT)
    if stat is None:
        resp = jsonify(
            error="尚未发布状态快照：请运行 ecert status export --publish",
            detail="no status snapshot published yet: run ecert status export --publish",
        )
        resp.status_code = 404
        return resp
    etag = f"{stat.size:x}-{int(stat.modified * 1000):x}"
    resp = Response(status=200, mimetype="application/json")
    resp.set_etag(etag)
    resp.last_modified = datetime.fromtimestamp(stat.modified, UTC)
    resp.cache_control.public = True
    resp.cache_control.max_age = MAX_AGE
    if request.if_none_match.contains(etag) or (
        not request.if_none_match
        and request.if_modified_since is not None
        and resp.last_modified <= request.if_modified_since
    ):
        resp.status_code = 304
        return resp
    try:
        stored = store.open(STORED_AT)  # streamed: a region's snapshot is tens of MB
    except FileNotFoundError:  # deleted between the two looks
        return Response("retry", status=503, headers={"Retry-After": "1"})
    resp.response = wrap_file(request.environ, stored, CHUNK)
    return resp
