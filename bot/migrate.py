"""Bringing a database's schema up to date with Alembic (SQLite or PostgreSQL)."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot.settings import ROOT


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "bot" / "migrations"))
    config.attributes["url"] = url
    return config


def upgrade_database(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
