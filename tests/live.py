"""Real ``carework`` server processes for tests: start on a free loopback port, wait, stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import httpx
import psutil
import pytest

CAREWORK = str(Path(sys.executable).with_name("carework"))
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 20.0
CONTENDERS = 16
PROBLEM_JSON = "application/problem+json"


# --------------------------------------------------------------------------------------------
# Process helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


#: What a test server runs with unless a test says otherwise: no rate limit in the way (one
#: caller sends a whole test's requests, schemathesis thousands), each refusal its own audit
#: event. ``tests/test_limits.py`` sets the real ones.
TEST_SERVER_DEFAULTS = {
    "CAREWORK_RATE_LIMIT": "1000000/minute",
    "CAREWORK_ANON_RATE_LIMIT": "1000000/minute",
    "CAREWORK_REFUSAL_WINDOW_SECONDS": "0",
}


def child_env(**overrides: str) -> dict[str, str]:
    """The test's environment without any carework or database settings, plus the test
    server defaults and ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CAREWORK_") and key != "DATABASE_URL"
    }
    env.update(TEST_SERVER_DEFAULTS)
    env.update(overrides)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAREWORK, *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


class LiveServer:
    """``carework serve`` in a child process on a free loopback port; output goes to a file."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with log_path.open("ab") as log:
            # The child gets its own session so a last-resort kill reaches its workers too.
            self.proc = subprocess.Popen(
                [CAREWORK, "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail(f"server exited with {self.proc.returncode}:\n{self.log()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/healthz").status_code == 200:
                        return
                time.sleep(0.1)
        pytest.fail(f"server not ready after {timeout} s:\n{self.log()}")

    def terminate(self, timeout: float = SHUTDOWN_TIMEOUT) -> int:
        """SIGTERM, and wait; kill the whole process group only if that does not end it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
                pytest.fail(f"server ignored SIGTERM for {timeout} s:\n{self.log()}")
        return self.proc.returncode

    def worker_pids_serving(self) -> set[int]:
        """Pids of this server's processes that hold an accepted connection on its port."""
        pids = set()
        for process in psutil.Process(self.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                for conn in process.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == self.port:
                        pids.add(process.pid)
        return pids


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "postgres" in (process.info["name"] or "") and str(pgdata) in cmdline:
            found.append(process)
    return found


def wait_until_gone(pgdata: Path, timeout: float = 10.0) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while (left := postgres_processes(pgdata)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@contextlib.contextmanager
def serving(database_url: str, data_dir: Path, log_path: Path, *args: str) -> Iterator[LiveServer]:
    """``carework serve`` on a test database with the tests' dev key; must stop with exit 0."""
    env = child_env(
        DATABASE_URL=database_url, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(data_dir)
    )
    live = LiveServer(list(args), env, log_path)
    try:
        live.wait_ready()
        yield live
    finally:
        returncode = live.terminate()
    assert returncode == 0, live.log()


@contextlib.asynccontextmanager
async def clients_across_workers(
    server: LiveServer, count: int = CONTENDERS
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` clients, each holding its own open connection, spread over 2+ server processes.

    The kernel decides which worker accepts a connection, so connections are opened (and warmed
    with a request) until at least two workers hold some; every client then reuses its
    connection for the contested request.
    """
    async with contextlib.AsyncExitStack() as stack:
        clients: list[httpx.AsyncClient] = []

        async def open_clients(n: int) -> None:
            batch = [
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        base_url=server.base_url,
                        timeout=30.0,
                        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                    )
                )
                for _ in range(n)
            ]
            warm = await asyncio.gather(*(c.get("/healthz") for c in batch))
            assert all(r.status_code == 200 for r in warm)
            clients.extend(batch)

        await open_clients(count)
        while len(server.worker_pids_serving()) < 2:
            assert len(clients) < 8 * count, "every connection landed on one server process"
            await open_clients(count)
        yield clients
