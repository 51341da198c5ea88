"""The ``carework`` command: serve, migrate, dev-token, audit, openapi."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from carework.config import Settings, get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="CAREWORK_DATA_DIR", help="Where carework keeps its data."),
]


def _settings(data_dir: Path | None) -> Settings:
    if data_dir is not None:
        os.environ["CAREWORK_DATA_DIR"] = str(data_dir)
    get_settings.cache_clear()
    return get_settings()


METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _fresh_metrics_dir(data_dir: Path) -> Path:
    """Where the workers keep their metrics, so that any of them answers ``/metrics`` for all
    (``operations.metrics``): the operator's ``PROMETHEUS_MULTIPROC_DIR``, else
    ``DATA_DIR/metrics``. Emptied of the last run's files before any worker starts: their
    counts belong to processes that are gone."""
    given = os.environ.get(METRICS_DIR_ENV)
    directory = Path(given) if given else data_dir / "metrics"
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """SIGTERM asks for a clean stop: unwind through ``finally`` blocks and exit 0.

    While uvicorn serves, its own handler has SIGTERM: it drains, restores this handler and
    raises the signal again (one worker), or its supervisor keeps the signal and returns once
    the workers have drained (``--workers N``). With the default action the process would die
    right there, before the embedded database is stopped; with this one it stops it, after the
    drain (``carework.serving``).
    """
    raise SystemExit(0)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    data_dir: DataDir = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo data set (once) for the web frontend.")
    ] = False,
) -> None:
    """Run the service. Without DATABASE_URL an embedded PostgreSQL starts in the data dir."""
    import structlog

    from carework import serving
    from carework.db import migrate
    from carework.db.embedded import EmbeddedPostgres
    from carework.logs import configure_logging

    signal.signal(signal.SIGTERM, _exit_cleanly)
    if demo:  # each worker's lifespan seeds; the seeding is idempotent
        os.environ["CAREWORK_DEMO"] = "1"
    settings = _settings(data_dir)
    # Before prometheus_client is imported here or in any worker: it picks its store then.
    os.environ[METRICS_DIR_ENV] = str(_fresh_metrics_dir(settings.data_dir))
    configure_logging(settings.log_level)
    log = structlog.stdlib.get_logger("carework.cli")
    embedded: EmbeddedPostgres | None = None
    try:  # a SIGTERM while the embedded database starts stops it, too
        if settings.database_url is None:
            embedded = EmbeddedPostgres(settings.pgdata)
            log.info("starting embedded postgresql", pgdata=str(settings.pgdata))
            url = embedded.start()
            log.info("migrating to head")
            migrate.upgrade(url)
            # Workers inherit the database this process owns (and so the embedded defaults).
            os.environ["CAREWORK_DATABASE_URL"] = url
            os.environ["CAREWORK_DATABASE_IS_EMBEDDED"] = "1"
            # A single worker runs in this process: its app must see that URL too, not a
            # cached "no database" that would make its lifespan open (and later stop) the
            # server again.
            get_settings.cache_clear()
        # Returns (or raises SystemExit(0) via _exit_cleanly) once every request has drained.
        serving.run(settings, host=host, port=port, workers=workers)
    finally:
        if embedded is not None:
            log.info("stopping embedded postgresql")
            embedded.stop()


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    data_dir: DataDir = None,
) -> None:
    """Migrate the database (DATABASE_URL, or the embedded one) to a revision.

    Runs at once are serialised by a lock in the database; a run that waited finds the work
    done. Each step applied is logged (Alembic's "Running upgrade A -> B").
    """
    from carework.db import migrate as migrations
    from carework.db.embedded import EmbeddedPostgres
    from carework.logs import configure_logging

    settings = _settings(data_dir)
    configure_logging(settings.log_level)
    if settings.database_url is not None:
        migrations.upgrade(settings.database_url.get_secret_value(), revision)
        return
    embedded = EmbeddedPostgres(settings.pgdata)
    try:
        migrations.upgrade(embedded.start(), revision)
    finally:
        embedded.stop()


@app.command("dev-token")
def dev_token(
    role: Annotated[str, typer.Option(help="clinician | nav_advisor | patient | auditor")],
    sub: Annotated[str, typer.Option(help="The person's id.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    org: Annotated[str | None, typer.Option(help="DPS unit or NAV office.")] = None,
    pid: Annotated[str | None, typer.Option(help="Patients: their national id.")] = None,
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds.")] = 3600,
    data_dir: DataDir = None,
) -> None:
    """Print a token signed by the dev key in the data dir (trusted only in dev mode)."""
    from carework.auth.dev_keys import mint_dev_token
    from carework.vocab import Role

    if role not in {r.value for r in Role}:
        raise typer.BadParameter(f"unknown role {role!r}", param_hint="--role")
    settings = _settings(data_dir)
    token = mint_dev_token(
        settings.dev_key_file, role=role, sub=sub, org=org, name=name, pid=pid, ttl=ttl
    )
    typer.echo(token)


audit_app = typer.Typer(no_args_is_help=True, help="The audit trail.")
app.add_typer(audit_app, name="audit")


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[str]:
    """The URL of ``DATABASE_URL``, or of the embedded database, started for the block."""
    from carework.db.embedded import EmbeddedPostgres

    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    embedded = EmbeddedPostgres(settings.pgdata)
    try:
        yield embedded.start()
    finally:
        embedded.stop()


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDir = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Recompute every hash chain and compare it with the newest checkpoint; exit 1 and name
    the first broken link if any. The JSON report goes to stdout."""
    import asyncio
    import json
    from dataclasses import asdict

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from carework.audit.chain import verify
    from carework.audit.checkpoint import Location
    from carework.db.session import make_engine, make_sessionmaker

    settings = _settings(data_dir)
    bar = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=Console(stderr=True), disable=not progress,
    )  # fmt: skip
    task = bar.add_task("verifying audit events", total=None)

    async def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    async def run(url: str) -> dict[str, object]:
        engine = make_engine(url, pool_size=1)
        try:
            async with make_sessionmaker(engine)() as session:
                result = await verify(session, location=Location.of(settings), progress=advance)
        finally:
            await engine.dispose()
        return asdict(result)

    with _database(settings) as url, bar:
        report = asyncio.run(run(url))
    typer.echo(json.dumps(report))
    if not report["ok"]:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(data_dir: DataDir = None) -> None:
    """Write a signed checkpoint of every chain head and the event count, outside the database
    (CAREWORK_AUDIT_CHECKPOINT_DIR), and print a short JSON summary."""
    import asyncio
    import json
    import time

    from carework.audit import checkpoint
    from carework.db.session import make_engine, make_sessionmaker

    settings = _settings(data_dir)
    location = checkpoint.Location.of(settings)

    async def run(url: str) -> dict[str, object]:
        engine = make_engine(url, pool_size=1)
        started = time.perf_counter()
        try:
            taken = await checkpoint.snapshot(make_sessionmaker(engine))
        finally:
            await engine.dispose()
        path = checkpoint.write(taken, location)
        return {
            "file": path.name, "directory": str(path.parent),
            "created_at": taken.created_at.isoformat(), "events": taken.events,
            "chains": len(taken.chains), "seconds": round(time.perf_counter() - started, 3),
        }  # fmt: skip

    with _database(settings) as url:
        summary = asyncio.run(run(url))
    typer.echo(json.dumps(summary))


@app.command()
def openapi(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the file differs from the app's spec.")
    ] = False,
    output: Annotated[Path, typer.Option(help="Where the spec lives.")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Write the OpenAPI spec that clients are generated from (or check it is current)."""
    from carework.openapi import render_spec

    spec = render_spec()
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != spec:
            typer.echo(f"{output} is out of date: run `carework openapi`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is up to date", err=True)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(spec, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)


def main() -> None:
    app()
