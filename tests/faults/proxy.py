"""A TCP proxy to PostgreSQL's Unix socket that can turn into a black hole: a hung database as
the network makes one (a half-open connection: packets lost, nothing closed or reset)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path


class BlackHoleProxy:
    """Listens on 127.0.0.1 and forwards every connection to PostgreSQL's socket.

    ``black_hole`` stops forwarding, both ways, on every connection, old and new, without
    closing one: what is sent is held, never answered. ``resume`` forwards again (what was
    held goes on); ``drop`` closes every connection, as a firewall that finally resets them.
    """

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.port = 0
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def black_hole(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def drop(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._flowing.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(client)
        try:
            await self._flowing.wait()  # a new connection hangs before it reaches the server
            server_reader, server = await asyncio.open_unix_connection(self.socket)
            self._writers.add(server)
            await asyncio.gather(
                self._pipe(client_reader, server), self._pipe(server_reader, client)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            client.transport.abort()
            self._tasks.discard(task)

    async def _pipe(self, source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                target.write(data)
                await target.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.transport.abort()
            self._writers.discard(target)
