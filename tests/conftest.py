"""Fixtures shared by all test modules: where the shared corpus and cases are."""

from __future__ import annotations

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
