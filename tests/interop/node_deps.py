"""Node.js for the interop tests: the pinned packages of ``package.json`` (panva's
oidc-provider and jose), installed once into ``tests/interop/node_modules`` by
``npm ci``, and a free loopback port for a server. Without Node.js and npm the
tests skip, except under ``CI=true``, where that is a failure."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PACKAGES = ("oidc-provider", "jose")


def node_or_skip() -> str:
    """The ``node`` executable, with the pinned packages installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        reason = "Node.js and npm are needed for the interop tests"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true requires them")
        pytest.skip(reason)
    if not all((HERE / "node_modules" / name).is_dir() for name in PACKAGES):
        subprocess.run(
            [npm, "ci", "--silent", "--no-audit", "--no-fund", "--prefix", str(HERE)],
            check=True,
            timeout=300,
        )
    return node


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
