"""One embedded PostgreSQL per test session, migrated by Alembic; the app over real HTTP/ASGI.

Tests isolate by data: every test gets its own DPS unit, NAV office and patient (``world``), so
nothing one test writes is in another test's scope.
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse two tests with one id: pytest-xdist's --dist loadfile would silently run one."""
    counts = Counter(item.nodeid for item in items)
    if shared := sorted(nodeid for nodeid, n in counts.items() if n > 1):
        raise pytest.UsageError(f"{len(shared)} test ids name more than one test: {shared[:3]}")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("carework-data")


@pytest.fixture(scope="session")
def embedded_pg() -> Iterator[EmbeddedPostgres]:
    # Outside pytest's basetemp: as root, pgserver runs postgres as another user, and pytest
    # resets its temp root to 0700 whenever a session starts. A short path, too: the Unix
    # socket path must stay under ~100 bytes.
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="cwpg"))
    pg = EmbeddedPostgres(root / "d")
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


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(database_url=database_url, dev_auth=True, data_dir=data_dir)


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
