"""The ``jwtgate`` console script."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ._version import __version__

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jwtgate`` command."""
    parser = argparse.ArgumentParser(
        prog="jwtgate",
        description="JWT bearer authentication middleware: tools for operators.",
    )
    parser.add_argument("--version", action="version", version=f"jwtgate {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
