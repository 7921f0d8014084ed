"""The import log: what each accepted file did."""

from __future__ import annotations

from sqlalchemy.orm import Session

from issuer.models import ImportBatch

from .reader import Source
from .report import ImportResult


def log_batch(session: Session, source: Source, result: ImportResult) -> None:
    session.add(
        ImportBatch(
            kind=result.kind,
            file_name=source.name,
            sha256=source.sha256,
            rows=result.rows,
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            summary="\n".join([result.summary(), *result.notes, *result.changes[:200]]),
        )
    )
