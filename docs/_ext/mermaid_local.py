"""MkDocs hook: the site serves Mermaid itself, so the diagrams render offline.

Material for MkDocs loads Mermaid from a CDN (unpkg) unless the page already
defines ``mermaid``. When the pinned Mermaid of ``docs/_ext/mermaid`` is
installed (``npm ci --prefix docs/_ext/mermaid``, as ``.ci/run`` does where
Node.js is present), its ``mermaid.min.js`` is copied into the site and loaded
before Material's bundle; without it, the site falls back to the CDN.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from mkdocs.config.config_options import ExtraScriptValue

SOURCE = Path(__file__).parent / "mermaid" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
TARGET = "javascripts/mermaid.min.js"


def on_config(config: Any) -> Any:
    if SOURCE.is_file():
        config.extra_javascript.append(ExtraScriptValue(TARGET))
    return config


def on_post_build(config: Any) -> None:
    if SOURCE.is_file():
        target = Path(config.site_dir) / TARGET
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SOURCE, target)
