"""The benchmark suite keeps running: one tiny-budget run of every section (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import SECTIONS  # noqa: E402 - the suite lives next to tests/

pytestmark = pytest.mark.slow  # runs the benchmark suite in a subprocess


def test_benchmark_command_runs_and_writes_json(tmp_path: Path) -> None:
    """``python -m benchmarks --quick --json FILE`` prints every section and writes its rows."""
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for title in ("Verifier.verify", "Middleware overhead", "Peers", "Token sizes", "Throughput"):
        assert title in done.stdout
    data = json.loads(out.read_text())
    assert data["machine"]["python"]
    results = data["results"]
    assert set(SECTIONS) <= set(results)
    assert all(row["ratio"] > 0 for row in results["verify"])
