"""The benchmark suite keeps running: one tiny-budget run of every section (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import SECTIONS  # noqa: E402 - the suite lives next to tests/

pytestmark = pytest.mark.slow  # runs the benchmark suite in a subprocess


def test_benchmark_command_runs_and_writes_json(tmp_path: Path) -> None:
    """``python -m benchmarks --quick --json FILE --plot DIR`` prints every section, writes
    its rows, and draws the four charts as SVG; ``--from-json`` redraws them from the file."""
    out = tmp_path / "bench.json"
    charts = tmp_path / "charts"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out), "--plot", str(charts)],
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
    drawn = sorted(path.name for path in charts.iterdir())
    assert drawn == ["overhead.svg", "peers.svg", "sizes.svg", "throughput.svg"]
    for path in charts.iterdir():
        root = ElementTree.parse(path).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert data["machine"]["python"] in path.read_text()  # the caption names the run
    again = tmp_path / "again"
    redraw = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--from-json", str(out), "--plot", str(again)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert redraw.returncode == 0, redraw.stderr[-2000:]
    for path in charts.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes()  # reproducible SVG
