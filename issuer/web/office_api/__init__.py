"""The office's JSON API for the bureau's other systems: what the office
pages do (declare, review and recognise, the school tables and a teacher's
sheet, certificates and revocation, background issue and render jobs, the
audit log's check), under /api/v1/office, described by office_openapi.py.

Every route but the OpenAPI document needs `Authorization: Bearer <token>`
(a token from `ecert staff token USERNAME`; only its SHA-256 is stored). A
missing, unknown or revoked token, or a deactivated account, is a 401 with
`WWW-Authenticate: Bearer`. The token's account acts through its Scope: a
role without the permission, or an object outside a registrar's school, is
a 404 that reads the same as an object that does not exist. No cookie is
read or set, so the blueprint is exempt from CSRF.

Each token is rate-limited (OFFICE_API_LIMIT, default 600 a minute) and
each client address's failed authentications (OFFICE_API_AUTH_FAILURES) in
the shared limiter's storage. Every error is JSON:
`{"error": {"message": <中文>, "detail": <English>}}`; bad input is a 400,
never a 500 or a stack trace.

One module a concern, as the office pages are: auth (tokens, limits,
scopes), errors (the error shape and handlers), bodies (reading input),
records (declaring and the review queue), teachers, certificates, jobs (and
the audit check and the OpenAPI document)."""

from __future__ import annotations

import logging

from flask import Blueprint

PREFIX = "/api/v1/office"
bp = Blueprint("office_api", __name__, url_prefix=PREFIX)
log = logging.getLogger(__name__)

MAX_JSON = 1024 * 1024  # a JSON body: some 8,000 records
MAX_UPLOAD = 10 * 1024 * 1024  # a declaration file
SPREADSHEETS = {
    "text/csv": ".csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
UPLOAD_TYPES = {"multipart/form-data", *SPREADSHEETS}

# The modules below register the routes and handlers on bp (they import the names above).
from issuer.web.office_api import auth, certificates, errors, jobs, records, teachers  # noqa: E402,F401
