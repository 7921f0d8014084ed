"""The bureau's and schools' pages (工作台): sign-in for staff, and the
declare → review → recognise → issue → query flow, each page bounded by
the signed-in account's Scope. An object outside the scope is a 404.

Route modules: declare (a registrar's declarations), review (the auditor's
queue), queries (tables, a teacher's sheet, XLSX), jobs (background
batches), records of the office (certificates, audit log, accounts)."""

from __future__ import annotations

import functools

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from werkzeug import exceptions as http

from issuer.office import review as review_lib
from issuer.office import staff as staff_lib
from issuer.office.passwords import change

from ...db import read_session
from ...errors import InputRefused, NotFound
from ...models import StaffAccount
from .. import limiter, signin, throttle
from ..context import engine, profile, settings  # noqa: F401  (the route modules import them from here)

bp = Blueprint("office", __name__, url_prefix="/office")


@bp.after_request
def _personal(response):
    """Every office page shows teachers' data: no browser or proxy keeps a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(NotFound)
def _outside_scope(_e):
    """A teacher, school or job outside the account's scope is not there at
    all: the app's own 404, as for a wrong address."""
    return current_app.handle_http_exception(http.NotFound())


@bp.errorhandler(InputRefused)
def _refused(_e):
    """A filter no form offers (a hand-made URL): the app's own 400."""
    return current_app.handle_http_exception(http.BadRequest())


def staff_required(permission: str | None = None):
    """The signed-in staff member (g.account, g.scope), whose password epoch
    still matches; a role without `permission` gets a 404, as if the page
    did not exist."""

    def decorate(view_fn):
        @functools.wraps(view_fn)
        def wrapper(*args, **kwargs):
            account_id, epoch = session.get("staff_id"), session.get("staff_epoch")
            if not account_id:
                return redirect(url_for("office.login", next=request.path))
            with read_session(engine()) as s:
                account = s.get(StaffAccount, account_id)
            if account is None or not account.active or account.epoch != epoch:
                session.pop("staff_id", None)
                return redirect(url_for("office.login"))
            g.account, g.scope = account, staff_lib.Scope.of(account)
            if account.must_change and view_fn.__name__ != "password":
                return redirect(url_for("office.password"))
            if permission and not g.scope.can(permission):
                abort(404)
            return view_fn(*args, **kwargs)

        return wrapper

    return decorate


def _sign_in(s: Session, username: str, password: str) -> tuple[int, int, bool]:
    account = throttle.sign_in(
        "staff", username, password, lambda: staff_lib.authenticate(s, username, password), staff_lib.REFUSED
    )
    return account.id, account.epoch, account.must_change


DOOR = signin.Door(
    name="office",
    id_key="staff_id",
    epoch_key="staff_epoch",
    field="username",
    field_max=64,
    sign_in=_sign_in,
    locked=lambda s, account_id: s.get(StaffAccount, account_id, with_for_update=True),
    change=lambda account, old, new: change(account, old, new, forbidden=(account.username,)),
    throttle_kind="staff",
    throttle_key=lambda: g.account.username,
)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 60 per hour", methods=["POST"])
def login() -> ResponseReturnValue:
    return signin.login(DOOR)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    return signin.logout(DOOR)


@bp.route("/password", methods=["GET", "POST"])
@staff_required()
def password() -> ResponseReturnValue:
    return signin.change_password(DOOR)


@bp.get("/")
@staff_required()
def home():
    with read_session(engine()) as s:
        pending = (
            review_lib.pending_by_school(s, g.scope) if g.scope.can("review") or g.scope.school_code else []
        )
    return render_template("office/home.html", pending=pending)


# Pages the route modules add to the navigation: (endpoint, label, permission).
NAV: list[tuple[str, str, str]] = []


@bp.app_template_global()
def office_nav() -> list[tuple[str, str, str]]:
    return NAV


@bp.app_template_global()
def role_label(role: str) -> str:
    return staff_lib.ROLES.get(role, role)


MAX_ID = 2**63 - 1  # the largest id a database row can have
MAX_PAGE = 1_000_000


def int_list(values: list[str]) -> list[int]:
    """Record ids from a form; anything else (past what a row id can be,
    too: SQLite raised OverflowError, a 500) is a bad request."""
    try:
        ids = [int(v) for v in values if v.strip()]
    except ValueError:
        abort(400)
    if any(not 0 < i <= MAX_ID for i in ids):
        abort(400)
    return ids


def page_arg() -> int:
    """?page=N, 0 when absent; a page that is not a small whole number
    (`1e20`, 10**30, -1) is a bad request, as in the office API."""
    text = request.args.get("page", "").strip()
    if not text:
        return 0
    if not text.isascii() or not text.isdigit() or int(text) > MAX_PAGE:
        abort(400)
    return int(text)


from . import audit, certificates, declare, jobs, queries, review  # noqa: E402,F401  (registers the routes)
