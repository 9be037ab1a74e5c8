"""Every extraction case (a notebook and what a correct extractor reports) as a test.

Each case is a pair `NN_name.ipynb` + `NN_name.expected.json`; the keys of the
expected file are described in the cases folder's README. A failing case means
its whole kind of input is mishandled.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ingest.errors import NotebookError
from ingest.extract import extract_notebook
from ingest.model import CELL_FAILED, CELL_FALLBACK, ExtractedRows, NotebookDoc
from ingest.notebook import read_notebook
from conftest import CASES_DIR

CASE_NAMES = sorted(path.name.removesuffix(".expected.json") for path in CASES_DIR.glob("*.expected.json"))


def _load(cases_dir: Path, name: str) -> tuple[dict, NotebookDoc | None, NotebookError | None]:
    expected = json.loads((cases_dir / f"{name}.expected.json").read_text(encoding="utf-8"))
    data = (cases_dir / f"{name}.ipynb").read_bytes()
    try:
        return expected, read_notebook(data), None
    except NotebookError as error:
        return expected, None, error


def _extract(doc: NotebookDoc) -> ExtractedRows:
    return extract_notebook("case", doc.cells)


def _import_set(rows: ExtractedRows) -> set[tuple]:
    found = set()
    for row in rows.imports:
        if row["kind"] == "dynamic":
            found.add(("dynamic", row["module"]))
        else:
            found.add((row["module"], row["name"], row["alias"]))
    return found


def _expected_import_set(expected: dict) -> set[tuple]:
    found = set()
    for entry in expected["imports"]:
        if entry.get("dynamic"):
            found.add(("dynamic", entry["module"]))
        else:
            found.add((entry["module"], entry["name"], entry["alias"]))
    return found


@pytest.fixture(params=CASE_NAMES)
def case(request: pytest.FixtureRequest, cases_dir: Path) -> tuple[str, dict, NotebookDoc | None, NotebookError | None]:
    name = request.param
    return (name, *_load(cases_dir, name))


def test_case_imports(case) -> None:
    name, expected, doc, error = case
    if doc is None or not doc.is_python:
        assert expected["imports"] == [], f"{name}: expected imports from a notebook that was not read"
        return
    assert _import_set(_extract(doc)) == _expected_import_set(expected)


def test_case_calls(case) -> None:
    name, expected, doc, error = case
    if doc is None or not doc.is_python:
        assert expected["calls"] == []
        return
    callees = {row["callee"] for row in _extract(doc).uses if row["callee"] is not None}
    missing = sorted(set(expected["calls"]) - callees)
    assert missing == [], f"callees not found; found: {sorted(callees)}"


def test_case_not_calls(case) -> None:
    name, expected, doc, error = case
    if doc is None or not doc.is_python:
        return
    callees = {row["callee"] for row in _extract(doc).uses if row["callee"] is not None}
    assert sorted(set(expected["not_calls"]) & callees) == []


def test_case_parse_outcome(case) -> None:
    name, expected, doc, error = case
    outcome = expected["parse"]
    if outcome == "failed":
        assert doc is None, "the file was read as a notebook"
        assert error is not None and error.reason
        return
    assert doc is not None, f"the notebook could not be read: {error}"
    if not doc.is_python:
        assert outcome == "ok", "a non-Python notebook was expected to be parsed"
        return

    statuses = [row["status"] for row in _extract(doc).cells]
    degraded = [status for status in statuses if status in (CELL_FAILED, CELL_FALLBACK)]
    if outcome == "ok":
        assert degraded == []
    else:
        assert degraded != [], "every cell parsed, but the case expects a fallback"


def test_case_extra(case) -> None:
    name, expected, doc, error = case
    extra = expected.get("extra") or {}
    if not extra:
        pytest.skip("the case has no extra checks")
    if "language" in extra:
        assert doc is not None
        assert doc.language == extra["language"].lower()
        assert not doc.is_python
    if doc is None or not doc.is_python:
        return
    rows = _extract(doc)
    calls = [row for row in rows.uses if row["callee"] is not None]

    for callee, first_args in extra.get("first_args", {}).items():
        found = {row["first_arg"] for row in calls if row["callee"] == callee}
        assert set(first_args) <= found, f"first arguments of {callee}"

    counts = Counter(row["callee"] for row in calls)
    for callee, count in extra.get("call_counts", {}).items():
        assert counts[callee] == count, f"calls of {callee}"

    for callee, where in extra.get("lines", {}).items():
        places = {(row["cell_index"], row["line"]) for row in calls if row["callee"] == callee}
        places |= {(row["cell_index"], row["line"]) for row in rows.imports if row["module"] == callee}
        assert (where["cell"], where["line"]) in places, f"line of {callee}"

    if "boto3_client_services" in extra:
        services = {row["first_arg"] for row in calls if row["callee"] == "boto3.client"}
        assert services == set(extra["boto3_client_services"])
    if "boto3_resource_services" in extra:
        services = {row["first_arg"] for row in calls if row["callee"] == "boto3.resource"}
        assert services == set(extra["boto3_resource_services"])

    if "installs" in extra:
        assert {row["package"] for row in rows.installs} == set(extra["installs"])

    if "failed_cells" in extra:
        degraded = {row["cell_index"] for row in rows.cells if row["status"] in (CELL_FAILED, CELL_FALLBACK)}
        assert degraded == set(extra["failed_cells"])


def test_case_bonus_calls(case) -> None:
    """Calls that the cases call nice to have; reported as expected failures when missing."""
    name, expected, doc, error = case
    bonus = (expected.get("extra") or {}).get("bonus_calls", [])
    if not bonus or doc is None:
        pytest.skip("the case lists no bonus calls")
    callees = {row["callee"] for row in _extract(doc).uses}
    missing = sorted(set(bonus) - callees)
    if missing:
        pytest.xfail(f"bonus calls not found: {missing}")
