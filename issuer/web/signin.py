"""One sign-in, sign-out and password-change flow for the teacher's pages and
the office's. What differs between them (who signs in with what, what the
session holds, how a password is changed) is a `Door`; the flow itself, with
its throttling, session epochs and messages, is written once here.

A session holds the account's id and the epoch it began in; signing out or
changing the password moves the account's epoch on, so every copy of an
older cookie is refused (the guards of teacher.py and office/ check it).

A sign-in with a one-time code leads straight to the forced password change,
which then does not ask for the code again: the sign-in has just proven it.
The session carries that proof for the change alone (`PROVEN`): for this
door, this epoch and a few minutes; a later change asks for the current
password as always.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from issuer.db import read_session, write_session
from issuer.errors import EcertError
from issuer.office.passwords import SignInError, end_sessions

from . import throttle
from .context import engine


@dataclass(frozen=True)
class Door:
    name: str  # the blueprint, and the folder of its login.html and password.html
    id_key: str  # the session's key for the account
    epoch_key: str  # the session's key for the epoch it began in
    field: str  # the login form's account field (also the template's variable)
    field_max: int
    # (session, what was typed, password) → (account id for the session, epoch, must change); SignInError
    sign_in: Callable[[Session, str, str], tuple[Any, int, bool]]
    # the account of a session's id, locked for update (None: gone)
    locked: Callable[[Session, Any], Any]
    # (locked account, old, new): the change, by the account's own rules; old None: the
    # one-time code was proven at this session's sign-in, moments ago (PROVEN)
    change: Callable[[Any, str | None, str], None]
    throttle_kind: str  # what throttle.changing_password counts under
    throttle_key: Callable[[], str]  # the signed-in account's name, for that count


def login(door: Door) -> ResponseReturnValue:
    if request.method != "POST":
        return render_template(f"{door.name}/login.html", **{door.field: ""})
    typed = request.form.get(door.field, "").strip()[: door.field_max]
    password = request.form.get("password", "")[:200]
    with read_session(engine()) as s:
        try:
            account_id, epoch, must_change = door.sign_in(s, typed, password)
        except SignInError as e:
            flash(e.message)
            return render_template(f"{door.name}/login.html", **{door.field: typed}), 401
    session.clear()
    session.permanent = True
    session[door.id_key], session[door.epoch_key] = account_id, epoch
    if must_change:
        session[PROVEN] = [door.name, epoch, int(time.time()) + PROVEN_FOR]
    return redirect(url_for(f"{door.name}.password" if must_change else f"{door.name}.home"))


def logout(door: Door) -> ResponseReturnValue:
    """Ends the session on the server too: the account's epoch moves on, so
    a copy of the cookie taken before is refused after (every session of the
    account ends)."""
    account_id, epoch = session.get(door.id_key), session.get(door.epoch_key)
    if account_id:
        with write_session(engine()) as s:
            account = door.locked(s, account_id)
            if account is not None and account.epoch == epoch:
                end_sessions(account)
    session.clear()
    return redirect(url_for(f"{door.name}.login"))


PROVEN = "code_proven"  # the session's key: [door, epoch, until (Unix seconds)]
PROVEN_FOR = 10 * 60  # seconds: time to choose a password, too short for a forgotten open session


def _proven(door: Door) -> bool:
    """Whether this session signed in with the one-time code the account
    must still change, moments ago: at this door, in the epoch it is still
    in (the guard has checked that epoch against the account's)."""
    mark = session.get(PROVEN)
    return (
        bool(g.account.must_change)
        and isinstance(mark, list)
        and len(mark) == 3
        and mark[0] == door.name
        and mark[1] == session.get(door.epoch_key)
        and isinstance(mark[2], int)
        and time.time() < mark[2]
    )


def change_password(door: Door) -> ResponseReturnValue:
    """The signed-in account's (the guard set g.account) password change;
    the current password is not asked for when the sign-in has just proven
    the one-time code (`PROVEN`)."""
    template = f"{door.name}/password.html"
    proven = _proven(door)
    if request.method != "POST":
        return render_template(template, must=g.account.must_change, ask_old=not proven)
    try:
        if request.form.get("new") != request.form.get("again"):
            raise EcertError("两次输入的新密码不一致", "the new passwords differ")
        with (
            throttle.changing_password(door.throttle_kind, door.throttle_key()),
            write_session(engine()) as s,
        ):
            account = door.locked(s, session[door.id_key])
            old = None if proven and account.must_change else request.form.get("old", "")
            door.change(account, old, request.form.get("new", ""))
            epoch = account.epoch
    except EcertError as e:
        flash(e.message)
        return render_template(template, must=g.account.must_change, ask_old=not proven), 400
    session.pop(PROVEN, None)
    session[door.epoch_key] = epoch
    flash("密码已修改")
    return redirect(url_for(f"{door.name}.home"))
