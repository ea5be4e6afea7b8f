"""Copy each example file into the quickstart code block that shows it.

    python docs/_ext/inline_examples.py          # rewrite the blocks
    python docs/_ext/inline_examples.py --check  # exit 1 when a block differs

A quickstart shows its example as a fenced block whose first line names the file
(```python title="examples/flask_app.py"```), with the file's text inside, so the
page reads the same on GitHub as on the docs site (a MkDocs include would show as
a bare ``--8<--`` line there). tests/test_docs.py runs the check.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r'^```python title="(examples/[^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)


def inlined(page: str) -> str:
    """``page`` with every example block holding its file's current text."""

    def fill(match: re.Match[str]) -> str:
        source = (ROOT / match.group(1)).read_text()
        return f'```python title="{match.group(1)}"\n{source}```'

    return BLOCK.sub(fill, page)


def pages() -> list[Path]:
    return sorted((ROOT / "docs" / "quickstart").glob("*.md"))


def main() -> int:
    stale = []
    for page in pages():
        text = page.read_text()
        new = inlined(text)
        if new != text:
            stale.append(page)
            if "--check" not in sys.argv:
                page.write_text(new)
    if stale and "--check" in sys.argv:
        print("stale example blocks:", ", ".join(str(p.relative_to(ROOT)) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
