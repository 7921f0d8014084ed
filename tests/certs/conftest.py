"""Each test's in-memory register (tests/certs/tokens.py) starts empty. The
small bureau the tests here use (`keyed`, `bureau`) is tests/conftest.py's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_register():
    from .tokens import ISSUED_TOKENS

    ISSUED_TOKENS.clear()
    yield
    ISSUED_TOKENS.clear()
