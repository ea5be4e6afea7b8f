"""A throwaway PostgreSQL cluster on a free loopback port, for the PostgreSQL store tests.

Made with the installed ``initdb`` and ``pg_ctl`` (``PG_BIN`` names their directory,
else the newest ``/usr/lib/postgresql/*/bin``, else PATH), in a temporary directory,
trust authentication for the ``jwtgate`` role on 127.0.0.1 only. As root it runs as the
``postgres`` user (PostgreSQL refuses to run as root). Without the binaries the tests
skip with the reason, except under CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from redis_server import free_port, missing

ROLE = "jwtgate"


def pg_bin() -> Path:  # noqa: RET503 - missing() never returns
    """The directory holding initdb and pg_ctl, or skip (fail under CI=true)."""
    explicit = os.environ.get("PG_BIN")
    candidates = [explicit] if explicit else sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1:]
    if not explicit and shutil.which("pg_ctl"):
        candidates.append(str(Path(str(shutil.which("pg_ctl"))).parent))
    for found in candidates:
        if (Path(found) / "initdb").is_file() and (Path(found) / "pg_ctl").is_file():
            return Path(found)
    missing("initdb/pg_ctl not found (install PostgreSQL, or set PG_BIN, to run these tests)")


class PostgresServer:
    """One PostgreSQL cluster: started, stopped, restarted, frozen (SIGSTOP) and thawed."""

    def __init__(self, binaries: Path) -> None:
        self.bin = binaries
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="jwtgate-pg-"))
        self.data = self.workdir / "data"
        self._user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            owner = pwd.getpwnam("postgres")
            os.chown(self.workdir, owner.pw_uid, owner.pw_gid)
            self._user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._user, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        """Create the cluster's files (once)."""
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            ROLE,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} "
            "-c fsync=off -c max_connections=200"  # fsync: an OS crash is not tested
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.workdir / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``pg_ctl stop -m mode``) and wait for it."""
        self.resume()
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for status in glob.glob("/proc/[0-9]*/stat"):
            try:
                fields = Path(status).read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(Path(status).parent.name))
        return [postmaster, *children]

    def _signal(self, number: signal.Signals) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):  # a backend that just ended
                os.kill(pid, number)

    def pause(self) -> None:
        """Freeze every server process (SIGSTOP): sockets stay open, nothing answers."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a frozen server run again (SIGCONT)."""
        if (self.data / "postmaster.pid").exists():
            self._signal(signal.SIGCONT)

    def destroy(self) -> None:
        """Stop the server if it runs, and delete its files."""
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)


def running_cluster() -> Iterator[PostgresServer]:
    """A new cluster, started; destroyed when the generator ends (for fixtures)."""
    server = PostgresServer(pg_bin())
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()
