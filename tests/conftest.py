"""Fixtures shared by all test modules: where the shared corpus and cases are."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"
CORPUS_DIR = SHARED_DIR / "corpus"
CASES_DIR = SHARED_DIR / "cases"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def corpus_manifest() -> Path:
    """The manifest of the real corpus; tests that need it skip when it is absent."""
    manifest = CORPUS_DIR / "manifest.csv"
    if not manifest.is_file():
        pytest.skip(f"real corpus not found at {manifest} (it lives beside the repository in shared/)")
    return manifest


@pytest.fixture(scope="session")
def cases_dir() -> Path:
    if not CASES_DIR.is_dir():
        pytest.skip(f"extraction cases not found at {CASES_DIR} (they live beside the repository in shared/)")
    return CASES_DIR


# --- `nbcensus run` once per session and source ---------------------------------
# The study runs through the real CLI in a subprocess: ingest, dbt build, report
# and docs. dbt costs a few seconds per start, so each source runs once per
# session and the report, browser and run tests share the result.

EXAMPLES_MANIFEST = REPO_ROOT / "examples" / "manifest.csv"


@dataclass(frozen=True)
class StudyRun:
    """The folders and output of one `nbcensus run`."""

    warehouse: Path
    out: Path
    target: Path
    result: subprocess.CompletedProcess[str]

    @property
    def pages(self) -> list[Path]:
        return sorted(self.out.glob("*.html"))


def run_study(source: Path, workdir: Path) -> StudyRun:
    """Run `nbcensus run SOURCE` into `workdir` and fail the caller if it exits non-zero."""
    warehouse = workdir / "warehouse.duckdb"
    out = workdir / "report"
    target = workdir / "target"
    command = [
        str(Path(sys.executable).parent / "nbcensus"),
        "run",
        str(source),
        "--warehouse",
        str(warehouse),
        "--out",
        str(out),
        "--target-path",
        str(target),
        "--quiet",
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=3600)
    if result.returncode != 0:
        pytest.fail(f"nbcensus run {source} exited {result.returncode}:\n{result.stdout}\n{result.stderr[-5000:]}")
    return StudyRun(warehouse, out, target, result)


@pytest.fixture(scope="session")
def examples_study(tmp_path_factory: pytest.TempPathFactory) -> StudyRun:
    """The study on the example collection, the README's default input."""
    return run_study(EXAMPLES_MANIFEST, tmp_path_factory.mktemp("examples_study"))


@pytest.fixture(scope="session")
def corpus_study(corpus_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> StudyRun:
    """The study on the real corpus; skipped where the corpus is absent."""
    return run_study(corpus_manifest, tmp_path_factory.mktemp("corpus_study"))
