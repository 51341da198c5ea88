"""Which code a database schema still serves: what makes a rolling deploy safe across migrations.

During a rolling deploy the new code's ``carework migrate`` runs while old replicas still
serve. An *expand* migration (new nullable columns, new tables, indexes built concurrently)
leaves the old code working, and it says so in its script::

    serves_code_from = "<revision>"   # the oldest code revision this schema still serves

The old replicas do not have that script, so the migration environment (``migrations/env.py``)
writes what it declares into ``schema_compatibility`` in the transaction that stamps it: one row
per code revision the schema at ``revision`` serves (itself, and every revision back to
``serves_code_from``). ``/readyz`` of code built for head H is ready when the database is at H,
or when the row (database revision, H) is there. A script that declares nothing serves only
its own code: the safe default for a *contract* step, which must wait until no old replica runs.

The table belongs to the migration environment, as ``alembic_version`` belongs to Alembic: it
exists before the first migration and after a downgrade to base, so it has no model and
autogenerate leaves it alone (``env.py``'s ``include_object``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import RevisionMap
from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

#: The name a migration script gives the oldest code revision its schema still serves.
DECLARATION = "serves_code_from"

_metadata = MetaData()

schema_compatibility = Table(
    "schema_compatibility",
    _metadata,
    Column("revision", String(64), nullable=False),
    Column("code_revision", String(64), nullable=False),
    PrimaryKeyConstraint("revision", "code_revision", name="pk_schema_compatibility"),
    comment="Written by migrations/env.py: code revisions the schema at `revision` serves.",
)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object | None
) -> bool:
    """For autogenerate: compare the models only. This table, like ``alembic_version``, has no
    model on purpose."""
    return not (type_ == "table" and name == schema_compatibility.name)


def served_code(revisions: RevisionMap, revision: str) -> list[str]:
    """The code revisions the schema at ``revision`` serves, newest first.

    Raises ``alembic.script.revision.RangeNotAncestorError`` if the script names a revision
    that is not its ancestor: a migration cannot serve code newer than itself.
    """
    script = revisions.get_revision(revision)
    assert isinstance(script, Script), revision
    oldest = getattr(script.module, DECLARATION, None)
    if oldest is None:
        return [revision]
    if not isinstance(oldest, str):
        raise TypeError(f"{script.path}: {DECLARATION} must be a revision id, not {oldest!r}")
    return [r.revision for r in revisions.iterate_revisions(revision, oldest, inclusive=True)]


def check_declarations(scripts: ScriptDirectory) -> None:
    """Refuse to run with a declaration that names no ancestor, before any step runs: a step
    that builds an index concurrently commits part of itself before its end."""
    for script in scripts.walk_revisions():
        served_code(scripts.revision_map, script.revision)


def ensure_table(connection: Connection) -> None:
    schema_compatibility.create(connection, checkfirst=True)


def record_step(ctx: MigrationContext, step: MigrationInfo, **_: Any) -> None:
    """``on_version_apply`` callback: keep the table in step with each migration, in its
    transaction. An upgrade (or stamp) to R records what R declares; a downgrade from R
    forgets R."""
    connection = ctx.connection
    assert connection is not None, "compatibility is recorded online only"
    gone = step.up_revision_ids
    connection.execute(
        schema_compatibility.delete().where(schema_compatibility.c.revision.in_(gone))
    )
    if not step.is_upgrade:
        return
    rows = [
        {"revision": revision, "code_revision": code}
        for revision in step.up_revision_ids
        for code in served_code(step.revision_map, revision)
    ]
    connection.execute(schema_compatibility.insert(), rows)


@dataclass(frozen=True)
class SchemaState:
    """The database's revision, and whether it serves the code built for ``code_head``."""

    revision: str | None
    code_head: str | None
    serves_code: bool


async def schema_state(engine: AsyncEngine, code_head: str | None) -> SchemaState:
    """Plain SQL rather than Alembic's ``MigrationContext``, which logs two lines per call, and
    this runs on every readiness probe: two short statements at head, three otherwise."""
    async with engine.connect() as conn:
        has_versions, has_compatibility = (
            await conn.execute(
                text(
                    "SELECT to_regclass('alembic_version') IS NOT NULL,"
                    " to_regclass('schema_compatibility') IS NOT NULL"
                )
            )
        ).one()
        if not has_versions:  # never migrated
            return SchemaState(None, code_head, serves_code=False)
        heads = sorted(await conn.scalars(text("SELECT version_num FROM alembic_version")))
        if len(heads) != 1:  # not migrated, or unmerged branches: never ready
            return SchemaState(",".join(heads) or None, code_head, serves_code=False)
        current = heads[0]
        if current == code_head:
            return SchemaState(current, code_head, serves_code=True)
        if not has_compatibility:
            return SchemaState(current, code_head, serves_code=False)
        served = await conn.scalar(
            select(schema_compatibility.c.code_revision).where(
                schema_compatibility.c.revision == current,
                schema_compatibility.c.code_revision == code_head,
            )
        )
        return SchemaState(current, code_head, serves_code=served is not None)
