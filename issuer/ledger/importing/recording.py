"""The import log: what each accepted file did."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy.orm import Session

from ..models import ImportBatch
from .report import ImportResult


def log_batch(session: Session, path: Path, result: ImportResult) -> None:
    session.add(
        ImportBatch(
            kind=result.kind,
            file_name=path.name,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            rows=result.rows,
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            summary="\n".join([result.summary(), *result.notes, *result.changes[:200]]),
        )
    )
