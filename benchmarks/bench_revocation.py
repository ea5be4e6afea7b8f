"""What revocation-aware access costs per request: Gate.decide with check_revocation.

Run: ``python benchmarks/bench_revocation.py`` (starts its own redis-server on a free
loopback port when /usr/bin/redis-server or one on PATH exists). Each backend is
compared with the same Gate without the check, interleaved (see harness.py).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import compare

from jwtgate import Gate, RequestInfo, Sessions, Settings

SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").is_file() else None
    )
    if binary is None:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.01)
    proc.terminate()
    return None


def main() -> None:
    workdir = Path(tempfile.mkdtemp())
    redis = start_redis(workdir)
    stores = {"memory": "memory://bench", "sqlite": f"sqlite:///{workdir / 'bench.db'}"}
    if redis is not None:
        stores["redis (loopback)"] = redis[1]
    plain = Gate(Settings.from_dict({"secret": SECRET}))
    print("| check_revocation store | per decision | baseline | ratio |")
    print("| --- | --- | --- | --- |")
    try:
        for name, url in stores.items():
            settings = Settings.from_dict(
                {"secret": SECRET, "store": url, "check_revocation": True}
            )
            with Sessions(settings) as sessions:
                token = sessions.login("alice").access_token
            request = RequestInfo("GET", "/", (f"Bearer {token}",))
            gate = Gate(settings)
            result = compare(
                name,
                lambda gate=gate, request=request: gate.decide(request),
                "no check",
                lambda request=request: plain.decide(request),
            )
            print(result.row())
            gate.close()
    finally:
        if redis is not None:
            redis[0].terminate()
            redis[0].wait()


if __name__ == "__main__":
    sys.exit(main())
