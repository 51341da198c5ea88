"""The ``carework`` command: serve, migrate, dev-token."""

from __future__ import annotations

import os
import signal
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


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """SIGTERM asks for a clean stop: unwind through ``finally`` blocks and exit 0.

    uvicorn shuts down gracefully on SIGTERM and then raises the signal again; with the default
    action the process would die right there, before the embedded database is stopped.
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
    import uvicorn

    from carework.db import migrate
    from carework.db.embedded import EmbeddedPostgres
    from carework.http.server import protocol_class
    from carework.logs import configure_logging

    signal.signal(signal.SIGTERM, _exit_cleanly)
    if demo:  # each worker's lifespan seeds; the seeding is idempotent
        os.environ["CAREWORK_DEMO"] = "1"
    settings = _settings(data_dir)
    configure_logging(settings.log_level)
    log = structlog.stdlib.get_logger("carework.cli")
    embedded: EmbeddedPostgres | None = None
    if settings.database_url is None:
        embedded = EmbeddedPostgres(settings.pgdata)
        log.info("starting embedded postgresql", pgdata=str(settings.pgdata))
        url = embedded.start()
        log.info("migrating to head")
        migrate.upgrade(url)
        # Workers inherit the database this process owns (and so the embedded defaults).
        os.environ["CAREWORK_DATABASE_URL"] = url
        os.environ["CAREWORK_DATABASE_IS_EMBEDDED"] = "1"
        # A single worker runs in this process: its app must see that URL too, not a cached
        # "no database" that would make its lifespan open (and later stop) the server again.
        get_settings.cache_clear()
    try:
        uvicorn.run(
            "carework.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            server_header=False,
            log_level=settings.log_level.lower(),
            # Our JSON handler on the root logger formats uvicorn's lines too; the access line
            # is carework's own (AccessLogMiddleware), without the query string.
            log_config=None,
            access_log=False,
            # A request head must arrive in time (http/server.py); an idle keep-alive
            # connection is closed after its own, shorter, wait.
            http=protocol_class(settings.header_timeout_seconds),
            timeout_keep_alive=settings.keep_alive_seconds,
        )
    finally:
        if embedded is not None:
            log.info("stopping embedded postgresql")
            embedded.stop()


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    data_dir: DataDir = None,
) -> None:
    """Migrate the database (DATABASE_URL, or the embedded one) to a revision."""
    from carework.db import migrate as migrations
    from carework.db.embedded import EmbeddedPostgres

    settings = _settings(data_dir)
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


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None) -> None:
    """Recompute every hash chain; exit 1 and name the first broken link if any."""
    import asyncio
    import json

    from carework.audit.chain import verify
    from carework.db.embedded import EmbeddedPostgres
    from carework.db.session import make_engine, make_sessionmaker, unit_of_work

    settings = _settings(data_dir)
    embedded = EmbeddedPostgres(settings.pgdata) if settings.database_url is None else None
    url = embedded.start() if embedded else settings.database_url.get_secret_value()  # type: ignore[union-attr]

    async def run() -> dict[str, object]:
        engine = make_engine(url, pool_size=1)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                result = await verify(session)
        finally:
            await engine.dispose()
        return {"ok": result.ok, "events": result.events, "chains": result.chains,
                "first_broken": result.first_broken}  # fmt: skip

    try:
        report = asyncio.run(run())
    finally:
        if embedded:
            embedded.stop()
    typer.echo(json.dumps(report))
    if not report["ok"]:
        raise typer.Exit(1)


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
