"""The command-line entry point: every subcommand is registered and has help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ingest.cli import SUBCOMMANDS, build_parser


def test_every_subcommand_registered() -> None:
    parser = build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")

    assert sorted(subparsers.choices) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_subcommand_help_exits_zero(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert f"nbcensus {command}" in result.stdout


def test_missing_command_exits_with_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingest.cli"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert "usage: nbcensus" in result.stderr
