"""Readiness across a rolling deploy: a later migration that declares this code still served
keeps ``/readyz`` ready; one that does not, or a database behind, does not.

The later migrations are written into a temporary copy of the migrations directory (this
code's own scripts plus the new ones), as the next release's code would bring them; the app
under test has only the repository's scripts, as an old replica has.
"""

from __future__ import annotations

import asyncio
import shutil
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from alembic.script.revision import RangeNotAncestorError
from sqlalchemy import text

from carework.app import create_app
from carework.config import Settings
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from carework.db.session import make_engine

HEAD = migrate.head_revision()
EXPAND, CONTRACT = "e0e0e0e0e001", "c0c0c0c0c002"


def script(revision: str, down: str | None, serves_code_from: str | None) -> str:
    """An expand step: a nullable column on ``plan`` (old code never reads it), indexed
    concurrently (outside the migration's transaction, as on a table in use)."""
    declaration = "" if serves_code_from is None else f"serves_code_from = {serves_code_from!r}"
    return textwrap.dedent(f'''\
        """test step {revision}"""

        import sqlalchemy as sa
        from alembic import op

        revision = {revision!r}
        down_revision = {down!r}
        branch_labels = None
        depends_on = None
        {declaration}


        def upgrade() -> None:
            op.add_column("plan", sa.Column("col_{revision}", sa.Text(), nullable=True))
            with op.get_context().autocommit_block():
                op.create_index(
                    "ix_{revision}", "plan", ["col_{revision}"], postgresql_concurrently=True
                )


        def downgrade() -> None:
            op.drop_index("ix_{revision}", "plan")
            op.drop_column("plan", "col_{revision}")
        ''')


def next_release(tmp_path: Path, url: str, *scripts: tuple[str, str | None, str | None]) -> Config:
    """Alembic on a copy of this code's migrations with ``scripts`` added after its head."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.migrations_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    for revision, down, serves in scripts:
        (copy / "versions" / f"test_{revision}.py").write_text(script(revision, down, serves))
    cfg = migrate.alembic_config(url)
    cfg.set_main_option("script_location", str(copy))
    return cfg


@asynccontextmanager
async def this_code(database_url: str, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app as built from this checkout (its head is ``HEAD``) on ``database_url``."""
    app = create_app(Settings(database_url=database_url, dev_auth=True, data_dir=data_dir))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://carework.test") as c:
            yield c


async def served_by(url: str, revision: str) -> set[str]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT code_revision FROM schema_compatibility WHERE revision = :r"),
                {"r": revision},
            )
            return {code for (code,) in rows}
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_url(embedded_pg: EmbeddedPostgres) -> str:
    return embedded_pg.create_database("cw_compat")


async def test_an_expand_migration_keeps_the_previous_code_ready(
    fresh_url: str, data_dir: Path, tmp_path: Path
) -> None:
    cfg = next_release(tmp_path, fresh_url, (EXPAND, HEAD, HEAD))
    await asyncio.to_thread(command.upgrade, cfg, "head")
    assert await served_by(fresh_url, EXPAND) == {EXPAND, HEAD}
    assert await served_by(fresh_url, str(HEAD)) == {HEAD}

    async with this_code(fresh_url, data_dir) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "migrations": EXPAND,
        "code_head": HEAD,
    }

    # Rolled back to this code's head, the database forgets what the later step declared.
    await asyncio.to_thread(command.downgrade, cfg, str(HEAD))
    assert await served_by(fresh_url, EXPAND) == set()
    async with this_code(fresh_url, data_dir) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["migrations"] == HEAD


@pytest.mark.parametrize(
    "declared", [None, EXPAND], ids=["declares-nothing", "serves-only-the-expand-code"]
)
async def test_a_later_migration_that_does_not_serve_this_code_makes_it_not_ready(
    fresh_url: str, data_dir: Path, tmp_path: Path, declared: str | None
) -> None:
    """Not transitive: a step serving the code of the expand step need not serve ours."""
    cfg = next_release(tmp_path, fresh_url, (EXPAND, HEAD, HEAD), (CONTRACT, EXPAND, declared))
    await asyncio.to_thread(command.upgrade, cfg, "head")

    async with this_code(fresh_url, data_dir) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["database"], problem["migrations"], problem["code_head"]) == (
        "ok",
        CONTRACT,
        HEAD,
    )
    assert CONTRACT in problem["detail"]
    assert str(HEAD) in problem["detail"]
    assert "newer code" in problem["detail"]


async def test_a_declaration_naming_no_ancestor_fails_the_migration_and_changes_nothing(
    fresh_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrate.upgrade, fresh_url)
    cfg = next_release(tmp_path, fresh_url, (EXPAND, HEAD, CONTRACT), (CONTRACT, EXPAND, None))
    with pytest.raises(RangeNotAncestorError):
        await asyncio.to_thread(command.upgrade, cfg, EXPAND)

    engine = make_engine(fresh_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            added = await conn.scalar(
                text(
                    "SELECT count(*) FROM information_schema.columns"
                    " WHERE table_name = 'plan' AND column_name = :c"
                ),
                {"c": f"col_{EXPAND}"},
            )
    finally:
        await engine.dispose()
    assert (version, added) == (HEAD, 0)  # refused before any step ran
    assert await served_by(fresh_url, EXPAND) == set()
