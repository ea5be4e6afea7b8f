"""The ``jwtgate`` console script: ``--version`` works now; commands come later."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import jwtgate
from jwtgate.cli import main


def test_version_in_a_subprocess() -> None:
    """``python -m jwtgate --version`` prints the version and exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "jwtgate", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout == f"jwtgate {jwtgate.__version__}\n"
    assert result.stderr == ""


def test_console_script_entry_point() -> None:
    """The installed ``jwtgate`` console script points at jwtgate.cli:main."""
    (script,) = entry_points(group="console_scripts", name="jwtgate")
    assert script.value == "jwtgate.cli:main"
    assert script.load() is main


def test_version_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    """main(["--version"]) prints the version and exits 0."""
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"jwtgate {jwtgate.__version__}\n"


def test_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown option is a usage error (exit code 2)."""
    with pytest.raises(SystemExit) as info:
        main(["--bogus"])
    assert info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_python_m_runs_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """jwtgate/__main__.py hands its arguments to main() and exits with its code."""
    path = Path(jwtgate.__file__).with_name("__main__.py")
    code = compile(path.read_text(), str(path), "exec")
    monkeypatch.setattr(sys, "argv", ["jwtgate", "--version"])
    with pytest.raises(SystemExit) as info:
        exec(code, {"__name__": "jwtgate.__main__", "__package__": "jwtgate"})
    assert info.value.code == 0
    assert capsys.readouterr().out == f"jwtgate {jwtgate.__version__}\n"
