"""Line numbers counted during the walk agree with libcst's PositionProvider.

The walker counts newlines instead of resolving `PositionProvider` (which
costs about 2.8 times the parse). These tests compare both on real notebook
cells from the corpus and on the extraction cases, node by node and row by row.
"""

from __future__ import annotations

import csv
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from ingest.compact import compact_code
from ingest.errors import NotebookError
from ingest.extract import extract_notebook
from ingest.fallback import walk_text
from ingest.fastparse import fast_parsing
from ingest.ipython import read_cell
from ingest.model import CellSource
from ingest.notebook import read_notebook
from ingest.visitors import EventWalker

# Every SAMPLE_STEP-th manifest row gives about 3,000 code cells of the corpus.
SAMPLE_STEP = 50


def _corpus_notebooks(manifest: Path) -> Iterator[tuple[str, list[CellSource]]]:
    with manifest.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[::SAMPLE_STEP]
    archives: dict[str, zipfile.ZipFile] = {}
    try:
        for row in rows:
            archive = archives.get(row["archive"])
            if archive is None:
                archive = archives[row["archive"]] = zipfile.ZipFile(manifest.parent / row["archive"])
            try:
                doc = read_notebook(archive.read(row["member"]))
            except NotebookError:
                continue
            if doc.is_python:
                yield row["member"], doc.cells
    finally:
        for archive in archives.values():
            archive.close()


def _case_notebooks(cases_dir: Path) -> Iterator[tuple[str, list[CellSource]]]:
    for path in sorted(cases_dir.glob("*.ipynb")):
        try:
            doc = read_notebook(path.read_bytes())
        except NotebookError:
            continue
        if doc.is_python:
            yield path.name, doc.cells


def _parse(text: str) -> cst.Module | None:
    try:
        return cst.parse_module(text)
    except Exception:  # noqa: BLE001 - cells libcst rejects are not compared
        return None


def _check_walker(text: str) -> int:
    """Compare the walker's line of every name it records with PositionProvider; return the count."""
    module = _parse(text)
    if module is None:
        return 0
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    walker = EventWalker()
    walker.node_lines = []
    walker.walk_module(module)
    for node, line in walker.node_lines:
        assert line == positions[node].start.line, f"{node.value!r} in:\n{text}"
    return len(walker.node_lines)


class _Expected(cst.CSTVisitor):
    """Gather import statement lines and the lines of every name, with PositionProvider."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        super().__init__()
        self.import_lines: Counter[int] = Counter()
        self.names: set[tuple[int, str]] = set()

    def visit_Import(self, node: cst.Import) -> None:
        self.import_lines[self.get_metadata(PositionProvider, node).start.line] += len(node.names)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        count = 1 if isinstance(node.names, cst.ImportStar) else len(node.names)
        self.import_lines[self.get_metadata(PositionProvider, node).start.line] += count

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add((self.get_metadata(PositionProvider, node).start.line, node.value))


def _check_rows(notebook: str, cells: list[CellSource]) -> int:
    """Compare the lines of import and use rows with PositionProvider on the uncompacted cell."""
    rows = extract_notebook(notebook, cells)
    checked = 0
    for cell in cells:
        if cell.cell_type != "code":
            continue
        code = read_cell(cell.source).code
        status = next(row["status"] for row in rows.cells if row["cell_index"] == cell.index)
        module = _parse(code) if code is not None and status == "parsed" else None
        if module is None:
            continue
        expected = _Expected()
        MetadataWrapper(module, unsafe_skip_copy=True).visit(expected)

        import_lines = Counter(row["line"] for row in rows.imports if row["cell_index"] == cell.index and row["kind"] != "dynamic")
        assert import_lines == expected.import_lines, f"{notebook} cell {cell.index}"
        name_lines = {line for line, _ in expected.names}
        for row in rows.uses:
            if row["cell_index"] != cell.index:
                continue
            if row["use_kind"] == "method" and row["method"]:
                assert (row["line"], row["method"].rsplit(".", 1)[-1]) in expected.names, f"{notebook} cell {cell.index}: {row}"
            else:
                assert row["line"] in name_lines, f"{notebook} cell {cell.index}: {row}"
            checked += 1
        checked += sum(import_lines.values())
    return checked


@pytest.mark.corpus
@pytest.mark.slow
def test_walker_lines_on_corpus(corpus_manifest: Path) -> None:
    checked = 0
    for _, cells in _corpus_notebooks(corpus_manifest):
        for cell in cells:
            if cell.cell_type != "code":
                continue
            code = read_cell(cell.source).code
            if code is None:
                continue
            checked += _check_walker(code)
            checked += _check_walker(compact_code(code).text)
    assert checked > 10_000


@pytest.mark.corpus
@pytest.mark.slow
def test_row_lines_on_corpus(corpus_manifest: Path) -> None:
    checked = sum(_check_rows(notebook, cells) for notebook, cells in _corpus_notebooks(corpus_manifest))
    assert checked > 5_000


@pytest.mark.corpus
@pytest.mark.slow
def test_fast_parsing_same_events_on_corpus(corpus_manifest: Path) -> None:
    """Shared leaves and skipped validation change nothing the walker reads."""
    compared = 0
    for _, cells in _corpus_notebooks(corpus_manifest):
        for cell in cells:
            code = read_cell(cell.source).code if cell.cell_type == "code" else None
            if code is None or _parse(code) is None:
                continue
            plain = walk_text(code)
            with fast_parsing():
                fast = walk_text(code)
            assert fast == plain, code
            compared += 1
    assert compared > 1_000


def test_walker_lines_on_cases(cases_dir: Path) -> None:
    checked = 0
    for _, cells in _case_notebooks(cases_dir):
        for cell in cells:
            code = read_cell(cell.source).code if cell.cell_type == "code" else None
            if code is not None:
                checked += _check_walker(code)
    assert checked > 100


def test_row_lines_on_cases(cases_dir: Path) -> None:
    checked = sum(_check_rows(notebook, cells) for notebook, cells in _case_notebooks(cases_dir))
    assert checked > 50


@pytest.mark.parametrize(
    "source",
    [
        "x = (1,\n\n  # comment\n  2)\ny = f(\n    a)\n",
        "s = '''\n\n'''\nt = \"a\\\n b\"\nu = 1 + \\\n  2\nv\n",
        "f'''{\nx\n}'''\nw\n",
        "if a:\n\n    # c\n    b\n\n\nelse:\n    c\n# tail\n\nd\n",
        "@dec(\n  1)\ndef f(a=b,\n      *c: d):\n    return e\nclass K(\n  Base):\n  z\n",
        "[x for x in\n  y\n  if z]\nf = lambda q: (\n  q)\n",
        "match p:\n    case {'k': v, **rest}:\n        w\n    case C(a=b):\n        u\n",
    ],
    ids=["brackets", "strings and continuations", "f-string", "blocks", "definitions", "comprehension", "match"],
)
def test_walker_lines_on_snippets(source: str) -> None:
    assert _check_walker(source) > 0
