"""One embedded PostgreSQL per test session, migrated by Alembic; the app over real HTTP/ASGI.

Tests isolate by data: every test gets its own DPS unit, NAV office and patient (``world``), so
nothing one test writes is in another test's scope.

Under pytest-xdist every worker is a session of its own, so each runs its own server, and the
databases it creates carry its id (``carework_test_gw0``). Workers do not share one server: the
change feed serves events below the oldest transaction still running in the whole cluster
(``pg_snapshot_xmin``), so another worker's requests would hold back the events a feed test
waits for. Every other name a test uses is unique already: ports from ``free_port()``,
directories from ``tmp_path`` or ``mkdtemp``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from carework.app import create_app
from carework.config import Settings
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.factories import TokenMaker, World, make_world


class WorkerPostgres(EmbeddedPostgres):
    """The embedded server as one test session uses it: database names carry the xdist worker."""

    def __init__(self, pgdata: Path, worker: str | None) -> None:
        super().__init__(pgdata)
        self.suffix = f"_{worker}" if worker else ""

    def create_database(self, name: str) -> str:
        return super().create_database(f"{name}{self.suffix}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse two tests with one id: pytest-xdist's --dist loadfile would silently run one."""
    counts = Counter(item.nodeid for item in items)
    if shared := sorted(nodeid for nodeid, n in counts.items() if n > 1):
        raise pytest.UsageError(f"{len(shared)} test ids name more than one test: {shared[:3]}")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("carework-data")


@pytest.fixture(scope="session")
def embedded_pg(request: pytest.FixtureRequest) -> Iterator[EmbeddedPostgres]:
    # Outside pytest's basetemp: as root, pgserver runs postgres as another user, and pytest
    # resets its temp root to 0700 whenever a session starts. A short path, too: the Unix
    # socket path must stay under ~100 bytes.
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="cwpg"))
    worker = getattr(request.config, "workerinput", {}).get("workerid")  # "gw0"; None: no xdist
    pg = WorkerPostgres(root / "d", worker)
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(embedded_pg: EmbeddedPostgres) -> str:
    url = embedded_pg.create_database("carework_test")
    migrate.upgrade(url)
    return url


#: The session app's limits are out of the way: every test client is 127.0.0.1, and one test
#: may send hundreds of requests as one caller. ``tests/test_limits.py`` builds apps with
#: the real ones, and its own refusal windows.
UNLIMITED = "1000000/minute"


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    # No periodic audit checkpoints: other tests' servers share this data dir with databases of
    # their own, and a checkpoint of this one would make theirs look cut back.
    return Settings(
        database_url=database_url,
        dev_auth=True,
        data_dir=data_dir,
        audit_checkpoint_interval_seconds=0,
        rate_limit=UNLIMITED,
        anon_rate_limit=UNLIMITED,
        refusal_window_seconds=0,  # each refusal its own event, as test_audit.py checks
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://carework.test") as c:
        yield c


@pytest.fixture(scope="session")
def tokens(settings: Settings) -> TokenMaker:
    return TokenMaker(settings.dev_key_file)


@pytest.fixture
def world(tokens: TokenMaker) -> World:
    return make_world(tokens)
