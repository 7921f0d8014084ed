"""Signing in through the pages, as a person does the first time: the
one-time code at the door, then the forced password change, which does not
ask for the code again (the sign-in has just proven it)."""

from __future__ import annotations

import re

NEW_PASSWORD = "浏览器里的新密码-2026"


def first_sign_in(page, base: str, login_path: str, fields: dict[str, str], code: str) -> None:
    """`fields`: the door's account field(s), e.g. {"username": "admin-1"}."""
    page.goto(base + login_path)
    for name, value in fields.items():
        page.fill(f"input[name={name}]", value)
    page.fill("input[name=password]", code)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/password$"))
    assert page.locator("input[name=old]").count() == 0  # the code is not asked for twice
    change_password(page)
    assert "密码已修改" in page.content()


def change_password(page, new: str = NEW_PASSWORD) -> None:
    page.fill("input[name=new]", new)
    page.fill("input[name=again]", new)
    page.click("main button[type=submit]")


def office_sign_in(page, base: str, username: str, code: str) -> None:
    first_sign_in(page, base, "/office/login", {"username": username}, code)
