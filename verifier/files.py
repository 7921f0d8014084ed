"""Reading the offline verifier's files: bounded in size, JSON, and every
problem said with the file's name."""

from __future__ import annotations

import json
from pathlib import Path


def read_json(path: Path, what: str, max_bytes: int, error: type[Exception]) -> object:
    """The decoded JSON, whatever its shape: the caller checks it."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot read the {what} ({e.strerror})") from None
    if len(data) > max_bytes:
        raise error(f"{path}: too large for a {what} ({len(data)} bytes)")
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise error(f"{path}: not JSON") from None
