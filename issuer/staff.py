"""The bureau's and schools' staff: accounts, roles, what each may see,
and API tokens for the bureau's other systems.

A deployment serves one bureau, so "the region" is everything in the
database. A registrar's account names her school, and every query she can
reach is bounded by it (Scope); an object outside her scope is "not found",
never "forbidden", so she cannot learn that it exists.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from verifier.clock import now_utc

from . import passwords
from .errors import InputRefused, NotFound
from .issuance import new_check_code
from .models import ApiToken, School, StaffAccount
from .passwords import SignInError

ROLES = {"admin": "管理员", "auditor": "审核员", "registrar": "学校专管员"}
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
CODE_LENGTH = 12
TOKEN_PREFIX = "ecert_"

# What each role may do; the web and the API ask through Scope.can.
PERMISSIONS = {
    "admin": {"declare", "review", "issue", "revoke", "query", "audit", "accounts"},
    "auditor": {"review", "issue", "revoke", "query", "audit"},
    "registrar": {"declare", "query"},
}


@dataclass(frozen=True)
class Scope:
    """Who is acting and what they may reach."""
    account_id: int
    username: str
    role: str
    school_code: str | None  # a registrar's school; None: the whole region

    @classmethod
    def of(cls, account: StaffAccount) -> Scope:
        return cls(account.id, account.username, account.role, account.school_code)

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return f"staff:{self.username}"

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, ())

    def sees_school(self, school_code: str) -> bool:
        return self.school_code is None or self.school_code == school_code

    def school_or_own(self, requested: str | None) -> str | None:
        """The school a query is bounded to: a registrar's own, whatever was asked."""
        if self.school_code is not None:
            if requested not in (None, "", self.school_code):
                raise NotFound("没有这所学校", f"no school {requested!r} in this account's scope")
            return self.school_code
        return requested or None


def create_account(session: Session, username: str, display_name: str, role: str,
                   school_code: str | None = None) -> str:
    """A new account and its one-time code (shown once, changed at first
    sign-in)."""
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise InputRefused(f"用户名 {username!r} 不合规：3–64 位小写字母、数字或 . _ -",
                           "username: 3-64 of a-z 0-9 . _ -, starting with a letter or digit")
    if role not in ROLES:
        raise InputRefused(f"未知角色 {role!r}，应为 {'、'.join(ROLES)}", f"role must be one of {', '.join(ROLES)}")
    if role == "registrar":
        if not school_code or session.get(School, school_code) is None:
            raise InputRefused(f"学校专管员须指定名册中已有的学校代码（{school_code!r} 不存在）",
                               "a registrar needs the code of a school in the roster")
    elif school_code:
        raise InputRefused("只有学校专管员账号属于某所学校", "only a registrar's account names a school")
    if session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)) is not None:
        raise InputRefused(f"用户名 {username} 已存在", "an account with this username exists")
    code = new_check_code(CODE_LENGTH)
    account = StaffAccount(username=username, display_name=display_name.strip()[:100] or username,
                           role=role, school_code=school_code if role == "registrar" else None,
                           epoch=0, failed=0, active=True, password_hash="")
    passwords.reset(account, code, must_change=True)
    session.add(account)
    session.flush()
    return code


def reset_code(session: Session, username: str) -> str:
    account = _by_username(session, username)
    code = new_check_code(CODE_LENGTH)
    passwords.reset(account, code, must_change=True)
    return code


def authenticate(session: Session, username: str, password: str) -> StaffAccount:
    refused = SignInError("用户名或密码不正确", "wrong username or password")
    account = session.scalar(select(StaffAccount).where(StaffAccount.username == username.strip().lower())
                             .with_for_update())
    if account is None or not account.active:
        passwords.spend_a_check(password)
        raise refused
    passwords.check(account, password, refused)
    return account


def list_accounts(session: Session) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.role, StaffAccount.username)))


def find_account(session: Session, username: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.username == username.strip().lower()))


def _by_username(session: Session, username: str) -> StaffAccount:
    account = find_account(session, username)
    if account is None:
        raise NotFound(f"没有用户名为 {username} 的账号", "no such staff account")
    return account


# -- API tokens ---------------------------------------------------------------

def create_token(session: Session, username: str, name: str) -> str:
    """A new bearer token for an account; only its hash is kept, so this is
    the one time it can be read."""
    account = _by_username(session, username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(account_id=account.id, name=name.strip()[:100] or "api", token_hash=_digest(token)))
    session.flush()
    return token


def account_for_token(session: Session, token: str) -> StaffAccount | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                ApiToken.revoked_at.is_(None)))
    account = session.get(StaffAccount, row.account_id) if row else None
    return account if account is not None and account.active else None


def revoke_tokens(session: Session, username: str) -> int:
    account = _by_username(session, username)
    n = 0
    for row in session.scalars(select(ApiToken).where(ApiToken.account_id == account.id,
                                                      ApiToken.revoked_at.is_(None))):
        row.revoked_at, n = now_utc(), n + 1
    return n


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
