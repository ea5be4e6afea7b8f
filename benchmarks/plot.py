"""Charts of a benchmark run: ``python -m benchmarks --plot DIR`` writes SVG files.

matplotlib is an optional dependency (``pip install -e ".[bench]"``); nothing else in
the suite needs it. Four charts, each drawn only when its section ran:

- ``overhead.svg``: middleware overhead per request, cached against uncached, per
  algorithm and stack (log scale: the cache is what makes the difference);
- ``peers.svg``: overhead over the same bare app, jwtgate against the other
  libraries measured in the run;
- ``throughput.svg``: requests per second with authentication as a share of the bare
  app's, on real servers;
- ``sizes.svg``: cost against token size, jwtgate's overhead and one raw decode.

Every chart names the machine, the Python and the date of the run. The SVG output is
reproducible for the same numbers (no timestamp, a fixed hash salt), so a chart
committed to the docs changes only when the numbers do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Rows = Sequence[Mapping[str, Any]]

COLORS = {"cached": "#2e7d32", "uncached": "#1565c0", "other": "#9e9e9e", "raw": "#ef6c00"}


def plot(results: Mapping[str, Rows], machine: Mapping[str, Any], directory: Path) -> list[Path]:
    """Write the charts for ``results`` (``report.sections``) into ``directory``."""
    import matplotlib

    matplotlib.use("svg")
    matplotlib.rcParams["svg.hashsalt"] = "jwtgate"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable
    matplotlib.rcParams["font.size"] = 9
    directory.mkdir(parents=True, exist_ok=True)
    caption = (
        f"{machine.get('cpus', '?')} CPUs ({machine.get('cpu', '?')}) · "
        f"Python {machine.get('python', '?')} · PyJWT {machine.get('pyjwt', '?')} · "
        f"{machine.get('when', '')}"
    )
    written = []
    for name, draw in (
        ("overhead", _overhead),
        ("peers", _peers),
        ("throughput", _throughput),
        ("sizes", _sizes),
    ):
        figure = draw(results)
        if figure is None:
            continue
        figure.tight_layout()  # the axis labels inside the figure, the caption below it
        figure.text(0.5, 0, caption, ha="center", va="top", fontsize=7, color="#555555")
        path = directory / f"{name}.svg"
        figure.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight")
        written.append(path)
        import matplotlib.pyplot as plt

        plt.close(figure)
    return written


def _figure(height: float) -> Any:
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(7.5, height))


def _overhead(results: Mapping[str, Rows]) -> Any:
    rows = results.get("middleware") or []
    pattern = re.compile(r"(\w+) (ASGI|WSGI) jwtgate overhead, (cached|uncached)")
    cases: dict[str, dict[str, float]] = {}
    for row in rows:
        match = pattern.fullmatch(row["name"])
        if match:
            alg, stack, kind = match.groups()
            cases.setdefault(f"{alg} {stack}", {})[kind] = row["seconds"] * 1e6
    if not cases:
        return None
    labels = list(cases)
    figure = _figure(0.35 * len(labels) + 1.2)
    axes = figure.add_subplot()
    for offset, kind in ((-0.2, "uncached"), (0.2, "cached")):
        values = [cases[label].get(kind, 0.0) for label in labels]
        positions = [index + offset for index in range(len(labels))]
        axes.barh(positions, values, height=0.38, color=COLORS[kind], label=kind)
        for y, value in zip(positions, values, strict=True):
            axes.text(value * 1.05, y, f"{value:.1f} µs", va="center", fontsize=7)
    axes.set_xscale("log")
    every = [value for case in cases.values() for value in case.values() if value > 0]
    axes.set_xlim(min(every) / 2, max(every) * 4)  # room for the labels and the legend
    axes.set_yticks(range(len(labels)), labels)
    axes.invert_yaxis()
    axes.set_xlabel("middleware overhead per request over a bare app (µs, log scale)")
    axes.set_title("A repeated token costs a cache lookup, a new one a verification")
    axes.legend(loc="lower right")
    return figure


def _peers(results: Mapping[str, Rows]) -> Any:
    rows = results.get("peers") or []
    if not rows:
        return None
    labels = [row["name"] for row in rows]
    values = [row["seconds"] * 1e6 for row in rows]
    figure = _figure(0.35 * len(labels) + 1.2)
    axes = figure.add_subplot()
    colors = [COLORS["cached"] if "jwtgate" in label else COLORS["other"] for label in labels]
    axes.barh(range(len(labels)), values, color=colors)
    for y, value in enumerate(values):
        axes.text(value * 1.05, y, f"{value:.1f} µs", va="center", fontsize=7)
    axes.set_xscale("log")
    axes.set_xlim(min(values) / 2, max(values) * 4)
    axes.set_yticks(range(len(labels)), labels)
    axes.invert_yaxis()
    axes.set_xlabel("overhead per request over the same bare app (µs, log scale)")
    axes.set_title("jwtgate against the alternatives, one repeated token")
    return figure


def _throughput(results: Mapping[str, Rows]) -> Any:
    rows = results.get("throughput") or []
    if not rows:
        return None
    labels = [row["name"] for row in rows]
    shares = [row["ratio"] * 100 for row in rows]
    figure = _figure(0.35 * len(labels) + 1.2)
    axes = figure.add_subplot()
    colors = [
        COLORS["cached"] if "jwtgate" in label and "uncached" not in label else COLORS["other"]
        for label in labels
    ]
    axes.barh(range(len(labels)), shares, color=colors)
    for y, (share, row) in enumerate(zip(shares, rows, strict=True)):
        rate = row.get("auth_rps")
        note = f"{share:.0f} %" + (f" ({rate:,.0f} req/s)" if rate else "")
        axes.text(share + 1, y, note, va="center", fontsize=7)
    axes.axvline(100, color="#555555", linewidth=0.8, linestyle="--")
    axes.set_xlim(0, 130)
    axes.set_yticks(range(len(labels)), labels)
    axes.invert_yaxis()
    axes.set_xlabel("requests per second with authentication, % of the bare app's (127.0.0.1)")
    axes.set_title("Throughput on real servers")
    return figure


def _sizes(results: Mapping[str, Rows]) -> Any:
    rows = results.get("sizes") or []
    pattern = re.compile(r"(\d+) B token, (jwtgate overhead|raw jwt\.decode)")
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        match = pattern.fullmatch(row["name"])
        if match:
            size, what = match.groups()
            series.setdefault(what, []).append((int(size), row["seconds"] * 1e6))
    if not series:
        return None
    figure = _figure(3.2)
    axes = figure.add_subplot()
    for what, color in (
        ("jwtgate overhead", COLORS["uncached"]),
        ("raw jwt.decode", COLORS["raw"]),
    ):
        points = sorted(series.get(what, []))
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", color=color, label=what)
    axes.set_xscale("log")
    axes.set_xlabel("token size (bytes, log scale)")
    axes.set_ylabel("µs per request (uncached)")
    axes.set_title("Cost against token size")
    axes.legend()
    return figure
