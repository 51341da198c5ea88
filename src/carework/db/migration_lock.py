"""One migration at a time per database: a PostgreSQL advisory lock around each run.

Every replica of a rolling deploy may run ``carework migrate`` (an init container, a release
step). Without a lock, two runs on a fresh database both find no ``alembic_version`` and both
create the tables; one fails. With it, the second waits, then finds the database at head and
does nothing.

Session-level (``pg_advisory_lock``), not transaction-level: a migration that builds an index
concurrently leaves its transaction (``op.get_context().autocommit_block()``), and the lock
must outlast that. It is released at the end of the run, or by PostgreSQL when the connection
goes, so a killed run never leaves the database locked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import text
from sqlalchemy.engine import Connection

log = logging.getLogger("carework.migrate")

#: ``int.from_bytes(b"carework")``: one fixed key for every carework database.
MIGRATION_LOCK_KEY = 7161132189468340075


@contextmanager
def holding_migration_lock(connection: Connection) -> Iterator[None]:
    """Wait for the database's migration lock on ``connection``, and hold it while inside.

    Leaves ``connection`` outside a transaction, as Alembic expects to find it.
    """
    key = {"key": MIGRATION_LOCK_KEY}
    if not connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
        log.warning("another migration holds the lock on this database: waiting for it")
        connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
    connection.commit()
    try:
        yield
    except BaseException:
        # The run's own error matters more; a connection too broken to unlock ends the
        # session, and the lock with it.
        with suppress(Exception):
            _release(connection)
        raise
    _release(connection)


def _release(connection: Connection) -> None:
    if connection.in_transaction():  # a failed run leaves its rolled-back transaction open
        connection.rollback()
    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    connection.commit()
