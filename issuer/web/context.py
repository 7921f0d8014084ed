"""What every blueprint of the service reads from the running app: its
database engine, its settings, and the bureau's current rules profile."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Engine

from verifier.profiles import RulesProfile, load_profile

from ..config import Settings


def engine() -> Engine:
    return current_app.extensions["ecert_engine"]


def settings() -> Settings:
    return current_app.config["ECERT_SETTINGS"]


def profile() -> RulesProfile:
    return load_profile(settings().profile_id)
