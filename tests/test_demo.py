"""`jwtgate demo`: the main job, run as a user runs it (a real process on 127.0.0.1)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from jwtgate.cli import EXIT_USAGE

pytestmark = pytest.mark.slow  # starts the demo server in a subprocess


def test_demo_script_plays_every_step_with_the_expected_status() -> None:
    """`jwtgate demo --script` walks login → expiry → refresh → reuse → logout, all as expected."""
    result = subprocess.run(
        [sys.executable, "-m", "jwtgate", "demo", "--script", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    steps = re.findall(r"^  (GET|POST) (\S+) -> (\d{3})  \[ok\]$", result.stdout, re.MULTILINE)
    assert [int(status) for _, _, status in steps] == [
        200, 200, 401, 403, 401, 200, 200, 400, 401, 400, 200, 204, 401,
    ]  # fmt: skip
    assert "token expired" in result.stdout
    assert "refresh token reused; session revoked" in result.stdout
    assert result.stdout.count("token revoked") == 3
    assert "Done: every step answered as expected." in result.stdout
    assert "UNEXPECTED" not in result.stdout
    assert "eyJ" not in result.stdout + result.stderr  # no token is ever printed


def test_demo_serves_until_ctrl_c_and_exits_cleanly() -> None:
    """The interactive demo prints the walkthrough, serves requests and exits 0 on Ctrl-C."""
    process = subprocess.Popen(
        [sys.executable, "-m", "jwtgate", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(lines)
        base = re.search(r"serving (http://127\.0\.0\.1:\d+)", text)
        assert base, text
        assert "curl -s -X POST" in text and "/auth/refresh" in text
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base.group(1) + "/api/me", timeout=10)
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"] == 'Bearer realm="jwtgate-demo"'
        refused.value.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:  # pragma: no cover - only when an assertion failed
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Stopped." in out
    assert "Traceback" not in err


def test_demo_refuses_a_public_address() -> None:
    """The demo has a known password, so it will not bind beyond loopback unless asked."""
    result = subprocess.run(
        [sys.executable, "-m", "jwtgate", "demo", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == EXIT_USAGE
    assert "--allow-remote" in result.stderr
