"""Checks that every Mermaid diagram of the built site renders in a real browser.

    python docs/_ext/render_check.py SITE_DIR [--screenshot DIR]

Serves SITE_DIR on a loopback port, opens each page whose Markdown holds a
``mermaid`` block in headless Chromium, and waits until each of those blocks has
become an SVG (Material for MkDocs draws a diagram into a closed shadow root,
which the DevTools protocol reads with ``pierce``). Exits 1 naming the page when a
diagram does not render within the time limit, 2 when Chromium is missing. With
``--screenshot DIR`` it also saves a PNG of each page, for a person to look at.
Needs the ``websockets`` package (in the dev extra) and Debian's ``chromium``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.server
import itertools
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

DOCS = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [  # what the workplace's probe uses: no network beyond loopback
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,6000",
]


def diagram_pages() -> dict[str, int]:
    """The site path of every page with Mermaid blocks, and how many it has."""
    pages = {}
    for page in sorted(DOCS.rglob("*.md")):
        if any(part.startswith("_") for part in page.relative_to(DOCS).parts):
            continue  # docs/_ext is not part of the site
        count = page.read_text(encoding="utf-8").count("```mermaid")
        if count:
            relative = page.relative_to(DOCS).with_suffix("")
            path = "" if relative.name == "index" else f"{relative.as_posix()}/"
            pages[path.removeprefix("index/")] = count
    return pages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def browser(binary: str) -> Iterator[str]:
    """A headless Chromium; yields its DevTools HTTP address."""
    port = free_port()
    # Chromium may still be writing its profile as it exits: clean up what can be.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        debugging = f"--remote-debugging-port={port}"
        process = subprocess.Popen(  # noqa: S603 - the machine's chromium, fixed flags
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", debugging, "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            address = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    # Loopback http only: the address is built above.
                    urllib.request.urlopen(f"{address}/json/version", timeout=1).read()  # noqa: S310
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            yield address
        finally:
            process.terminate()
            process.wait(timeout=10)


class Page:
    """One tab, spoken to over the DevTools protocol."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    @staticmethod
    def address(devtools: str) -> str:
        listing = urllib.request.urlopen(f"{devtools}/json/list", timeout=5)  # noqa: S310
        targets = json.load(listing)
        url: str = next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]
        return url

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    def rendered_diagrams(self) -> int:
        """How many ``div.mermaid`` hold an SVG in their (closed) shadow root."""
        root = self.call("DOM.getDocument", depth=-1, pierce=True)["root"]
        return sum(1 for node in _walk(root) if _is_diagram(node))


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in [*node.get("children", ()), *node.get("shadowRoots", ())]:
        yield from _walk(child)


def _is_diagram(node: dict[str, Any]) -> bool:
    attributes = node.get("attributes", [])
    classes = dict(zip(attributes[::2], attributes[1::2], strict=True)).get("class", "")
    if node.get("nodeName") != "DIV" or "mermaid" not in classes.split():
        return False
    shadows = node.get("shadowRoots", ())
    return any(n.get("nodeName") == "svg" for root in shadows for n in _walk(root))


def check(site: Path, binary: str, screenshots: Path | None, limit: float = 30) -> list[str]:
    failures = []
    with (
        serve(site) as base,
        browser(binary) as devtools,
        connect(Page.address(devtools), max_size=None) as socket,
    ):
        page = Page(socket)
        for path, expected in diagram_pages().items():
            page.call("Page.navigate", url=base + path)
            deadline = time.monotonic() + limit
            rendered = 0
            while time.monotonic() < deadline:
                time.sleep(0.5)
                rendered = page.rendered_diagrams()
                if rendered >= expected:
                    break
            print(f"{path or 'index'}: {rendered} of {expected} diagrams rendered")
            if rendered < expected:
                failures.append(path)
            if screenshots is not None:
                shot = page.call("Page.captureScreenshot", format="png")["data"]
                name = (path.strip("/") or "index").replace("/", "-") + ".png"
                (screenshots / name).write_bytes(base64.b64decode(shot))
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--screenshot", type=Path, default=None)
    args = parser.parse_args()
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        print("chromium not found", file=sys.stderr)
        return 2
    if args.screenshot is not None:
        args.screenshot.mkdir(parents=True, exist_ok=True)
    failures = check(args.site, binary, args.screenshot)
    if failures:
        print(f"diagrams that did not render: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
