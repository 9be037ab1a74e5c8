"""The README's commands and queries work as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, StudyRun

README = REPO_ROOT / "README.md"
DUCKDB_SHELL = Path(sys.executable).parent / "duckdb"


def code_blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_readme_setup_is_two_make_commands() -> None:
    first_block = code_blocks("sh")[0]

    assert first_block.split("\n")[:2] == ["make run", "make test"]


@pytest.mark.parametrize("target", ["run", "test"])
def test_makefile_has_target(target: str) -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")

    assert re.search(rf"^{target}:", makefile, re.MULTILINE)


def test_ci_calls_readme_test_command() -> None:
    script = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")

    assert "set -euo pipefail" in script
    assert re.search(r"^make test\b", script, re.MULTILINE)


def test_readme_queries_run_in_duckdb_shell(examples_study: StudyRun) -> None:
    """Every SQL statement of the README runs in the DuckDB shell of the venv and returns rows."""
    statements = [line for block in code_blocks("sql") for line in block.splitlines() if line.strip()]

    assert len(statements) >= 4
    assert DUCKDB_SHELL.is_file(), f"DuckDB shell not found at {DUCKDB_SHELL} (package duckdb-cli)"
    for statement in statements:
        result = subprocess.run(
            [str(DUCKDB_SHELL), "-readonly", "-csv", str(examples_study.warehouse), "-c", statement],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, f"{statement}\n{result.stderr}"
        assert len(result.stdout.splitlines()) >= 2, f"no rows from: {statement}"


def test_readme_family_rows_match_seed_columns() -> None:
    """The rows the README adds to the seed have the seed's two columns."""
    seed_header = (REPO_ROOT / "seeds" / "package_families.csv").read_text(encoding="utf-8").splitlines()[0]
    added_rows = code_blocks("csv")[0].splitlines()

    assert seed_header == "family,package"
    for row in added_rows:
        assert len(row.split(",")) == 2, row
