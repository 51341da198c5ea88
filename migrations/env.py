"""Alembic environment: async engine on asyncpg, models' metadata as the target.

Online, each run holds the database's migration lock (``carework.db.migration_lock``), and each
step records in its own transaction which code revisions the schema serves
(``carework.db.compatibility``: a script's ``serves_code_from``), which ``/readyz`` reads.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from carework.config import get_settings
from carework.db import compatibility
from carework.db.migration_lock import holding_migration_lock
from carework.db.session import to_async_url
from carework.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        setting = get_settings().database_url
        if setting is None:
            raise RuntimeError("no database URL: set DATABASE_URL or use `carework migrate`")
        url = setting.get_secret_value()
    return to_async_url(url)


def _configure(connection: Connection | None = None) -> None:
    context.configure(
        connection=connection,
        url=None if connection is not None else _url(),
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        literal_binds=connection is None,
        include_object=compatibility.include_object,
        on_version_apply=compatibility.record_step if connection is not None else (),
    )


def _run_sync(connection: Connection) -> None:
    compatibility.check_declarations(context.script)
    with holding_migration_lock(connection):
        _configure(connection)
        with context.begin_transaction():
            compatibility.ensure_table(connection)
            context.run_migrations()


async def _run_async() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run_sync(connectable)
        return
    engine = create_async_engine(_url(), poolclass=NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    _configure()
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
