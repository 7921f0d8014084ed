"""Settings, read from the environment when asked for (never at import)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    profile_id: str


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("ECERT_DATA_DIR") or "data").resolve()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'ecert.sqlite3'}"
    profile_id = os.environ.get("ECERT_PROFILE") or "horgos-7"
    return Settings(data_dir=data_dir, database_url=url, profile_id=profile_id)
