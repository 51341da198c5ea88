"""The HTTP server processes, and how they stop: SIGTERM drains the requests in flight.

On SIGTERM uvicorn (0.54) closes its listening socket, lets each request in flight finish (at
most ``CAREWORK_SHUTDOWN_TIMEOUT_SECONDS``; then it cancels them), runs the app's lifespan
shutdown and exits. One thing carework adds: with ``--workers N`` the supervising parent holds
a copy of the listening socket too, and uvicorn's supervisor keeps it open until every worker
has exited, so while workers drain the kernel still completes new connections into a backlog
nobody accepts from: a client hangs instead of being refused and trying another replica.
``_Supervisor`` closes the parent's copy before it signals the workers.

The caller (``carework serve``) stops the embedded database only after ``run`` returns, that is
after every worker has drained.
"""

from __future__ import annotations

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from carework.config import Settings
from carework.http.server import protocol_class

APP = "carework.app:create_app"


class _Supervisor(Multiprocess):
    """uvicorn's worker supervisor, refusing new connections as soon as the stop begins."""

    def terminate_all(self) -> None:  # called once, when the supervisor stops
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


def run(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve until SIGTERM or SIGINT, then drain; returns once every server process is done."""
    config = uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        server_header=False,
        log_level=settings.log_level.lower(),
        # Our JSON handler on the root logger formats uvicorn's lines too; the access line is
        # carework's own (AccessLogMiddleware), without the query string.
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        # A request head must arrive in time (http/server.py); an idle keep-alive
        # connection is closed after its own, shorter, wait.
        http=protocol_class(settings.header_timeout_seconds),
        timeout_keep_alive=settings.keep_alive_seconds,
    )
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:  # as uvicorn.run: the app failed to start
            raise SystemExit(STARTUP_FAILURE)
        return
    _Supervisor(config, sockets=[config.bind_socket()]).run()
