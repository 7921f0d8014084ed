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
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.certificates.issuance import new_check_code
from issuer.errors import InputRefused, NotFound
from issuer.models import ApiToken, School, StaffAccount
from issuer.office import passwords
from verifier.clock import as_utc, now_utc

from .passwords import SignInError

ROLES = {"admin": "管理员", "auditor": "审核员", "registrar": "学校专管员"}
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
CODE_LENGTH = 12
TOKEN_PREFIX = "ecert_"
TOKEN_DAYS = 180  # a token's default life: renewed twice a year, a departed user's lapses unseen
MAX_TOKEN_DAYS = 730
REFUSED = SignInError("用户名或密码不正确（连续输错多次后须稍候再试）", "wrong username or password")

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

    @classmethod
    def command_line(cls, actor: str) -> Scope:
        """The bureau's operator at the command line (ECERT_ACTOR): the
        whole region, no account (account_id 0)."""
        return cls(0, actor, "admin", None)

    @property
    def actor(self) -> str:
        """How the audit log names this person (the command line's operator
        as the CLI's own entries do)."""
        return self.username if self.account_id == 0 else f"staff:{self.username}"

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


def create_account(
    session: Session, username: str, display_name: str, role: str, school_code: str | None = None
) -> str:
    """A new account and its one-time code (shown once, changed at first
    sign-in)."""
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise InputRefused(
            f"用户名 {username!r} 不合规：3–64 位小写字母、数字或 . _ -",
            "username: 3-64 of a-z 0-9 . _ -, starting with a letter or digit",
        )
    if role not in ROLES:
        raise InputRefused(
            f"未知角色 {role!r}，应为 {'、'.join(ROLES)}", f"role must be one of {', '.join(ROLES)}"
        )
    if role == "registrar":
        if not school_code or session.get(School, school_code) is None:
            raise InputRefused(
                f"学校专管员须指定名册中已有的学校代码（{school_code!r} 不存在）",
                "a registrar needs the code of a school in the roster",
            )
    elif school_code:
        raise InputRefused("只有学校专管员账号属于某所学校", "only a registrar's account names a school")
    if session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)) is not None:
        raise InputRefused(f"用户名 {username} 已存在", "an account with this username exists")
    code = new_check_code(CODE_LENGTH)
    account = StaffAccount(
        username=username,
        display_name=display_name.strip()[:100] or username,
        role=role,
        school_code=school_code if role == "registrar" else None,
        epoch=0,
        failed=0,
        active=True,
        password_hash="",
    )
    passwords.reset(account, code, must_change=True)
    session.add(account)
    session.flush()
    return code


def reset_code(session: Session, username: str) -> str:
    """A new one-time code; the account's sessions and API tokens end (a
    reset is what is done when a password may be known to someone else)."""
    account = _by_username(session, username)
    code = new_check_code(CODE_LENGTH)
    passwords.reset(account, code, must_change=True)
    revoke_tokens(session, username)
    return code


def disable(session: Session, username: str) -> int:
    """Shut an account (someone left): it cannot sign in, its sessions end
    and its API tokens are revoked. Returns how many tokens were."""
    account = _by_username(session, username)
    account.active = False
    passwords.end_sessions(account)
    return revoke_tokens(session, username)


def enable(session: Session, username: str) -> str:
    """Open a shut account again, with a new one-time code (its old password
    and tokens stay void)."""
    account = _by_username(session, username)
    account.active = True
    return reset_code(session, username)


def authenticate(session: Session, username: str, password: str) -> StaffAccount:
    account = session.scalar(select(StaffAccount).where(StaffAccount.username == username.strip().lower()))
    if account is None or not account.active:
        passwords.spend_a_check(password)
        raise REFUSED
    passwords.check(account, password, REFUSED)
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


def create_token(session: Session, username: str, name: str, days: int = TOKEN_DAYS) -> str:
    """A new bearer token for an account, valid `days`; only its hash is
    kept, so this is the one time it can be read."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise InputRefused(f"令牌有效期应为 1 到 {MAX_TOKEN_DAYS} 天", f"days must be 1..{MAX_TOKEN_DAYS}")
    account = _by_username(session, username)
    if not account.active:
        raise InputRefused(f"账号 {account.username} 已停用，不能生成令牌", "the account is disabled")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            account_id=account.id,
            name=name.strip()[:100] or "api",
            token_hash=_digest(token),
            expires_at=now_utc().replace(microsecond=0) + timedelta(days=days),
        )
    )
    session.flush()
    return token


def account_for_token(session: Session, token: str) -> StaffAccount | None:
    """The active account a live token acts as: not revoked, not expired."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or as_utc(row.expires_at) <= now_utc():
        return None
    account = session.get(StaffAccount, row.account_id)
    return account if account is not None and account.active else None


def revoke_tokens(
    session: Session, username: str, name: str | None = None, token_id: int | None = None
) -> int:
    """Revoke an account's live tokens (those of one name, or one by id);
    how many were."""
    account = _by_username(session, username)
    q = select(ApiToken).where(ApiToken.account_id == account.id, ApiToken.revoked_at.is_(None))
    if name is not None:
        q = q.where(ApiToken.name == name)
    if token_id is not None:
        q = q.where(ApiToken.id == token_id)
    n = 0
    for row in session.scalars(q):
        row.revoked_at, n = now_utc(), n + 1
    return n


def tokens_of(session: Session) -> dict[int, list[ApiToken]]:
    """Every account's live tokens (not revoked, not expired), by account id."""
    out: dict[int, list[ApiToken]] = {}
    now = now_utc()
    for row in session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)):
        if as_utc(row.expires_at) > now:
            out.setdefault(row.account_id, []).append(row)
    return out


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
