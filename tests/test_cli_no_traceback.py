"""Every subcommand, found in the parser itself (so one added later is covered too), run
as a real process with bad input: one clear line on stderr and a documented exit code,
never a traceback (#15 item 4)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from jwtgate.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_UNAVAILABLE, EXIT_USAGE, build_parser

DOCUMENTED = {EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_UNAVAILABLE}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the jwtgate parser has no subcommands")


def positionals(command: argparse.ArgumentParser) -> list[str]:
    return [a.dest for a in command._actions if not a.option_strings and a.dest != "help"]


def options(command: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in command._actions for s in a.option_strings if s.startswith("--")}


def bad_inputs(name: str, command: argparse.ArgumentParser, tmp: Path) -> list[list[str]]:
    """Argument lists that must each fail cleanly."""
    broken = tmp / "broken.json"
    broken.write_text('{"SECRET": "x",\n')
    not_settings = tmp / "list.json"
    not_settings.write_text("[1, 2]")
    invalid = tmp / "invalid.json"
    invalid.write_text('{"LEEWAY": "thirty"}')
    module = tmp / "settings_module.py"
    module.write_text("JWTGATE = {'SECRET': undefined_name}\n")
    fillers = ["not-a-token" for _ in positionals(command)]
    cases = [[name, "--no-such-option"]]
    opts = options(command)
    for flag, action in opts.items():
        if action.type is int:
            cases.append([name, flag, "not-a-number", *fillers])
    files = []
    if "--settings" in opts:
        files = [
            ["--settings", str(p)] for p in (tmp / "missing.json", broken, not_settings, invalid)
        ]
        files = [[name, *f, *fillers] for f in files]
    elif positionals(command) == ["file"]:
        files = [[name, str(p)] for p in (tmp / "missing.json", broken, not_settings)]
    if name == "keygen":
        cases.append([name, "--alg", "NONE"])
    return cases + files


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_bad_input_gets_one_line_and_a_documented_exit_code(name: str, tmp_path: Path) -> None:
    command = subcommands()[name]
    assert command.description, f"`jwtgate {name} --help` has no description"
    for argv in bad_inputs(name, command, tmp_path):
        done = subprocess.run(
            [sys.executable, "-m", "jwtgate", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert "Traceback" not in done.stderr, (argv, done.stderr)
        assert done.returncode in DOCUMENTED, (argv, done.returncode, done.stderr)
        assert done.stderr.strip(), (argv, "no reason given")
        if "broken.json" in " ".join(argv):
            assert "line 2, column 1" in done.stderr, done.stderr
        if "settings_module.py" in " ".join(argv):
            assert "raised NameError" in done.stderr, done.stderr
