"""Run Alembic from code, so ``carework migrate`` works from a wheel as well as a checkout."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError

import carework


def migrations_dir() -> Path:
    bundled = Path(carework.__file__).parent / "_migrations"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(""))


def head_revision() -> str | None:
    return _scripts().get_current_head()


def knows_revision(revision: str) -> bool:
    """Whether this code has the migration script ``revision`` (older or equal to its head)."""
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:  # alembic: "No such revision or branch"
        return False
