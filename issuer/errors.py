"""Errors a bureau clerk can act on. Each carries a Chinese message and an
English detail; the CLI prints both and exits non-zero."""

from __future__ import annotations


class EcertError(Exception):
    exit_code = 1

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message}\n{self.detail}" if self.detail else self.message


class ConfigError(EcertError):
    """A setting or the environment is wrong."""


class DatabaseNotReady(EcertError):
    """The database is missing or not at the current schema."""


class NotFound(EcertError):
    exit_code = 3


class InputRefused(EcertError):
    """A file or argument was refused; nothing was stored."""

    exit_code = 2
