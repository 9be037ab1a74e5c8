"""A plain stdlib-`ast` extractor: the yardstick the libcst ingest is measured against.

It reads the same input files through the same readers as `nbcensus ingest`
(`iter_inputs`, `read_input`, `read_notebook`), neutralises IPython syntax with
the same `read_cell`, then parses each Python code cell with `ast.parse` and
collects, with one `ast.NodeVisitor`:
- imports (module, imported name, bound alias, line);
- uses: attribute chains and calls that start at an imported name, with the
  alias replaced by what it was bound to (`np.zeros` gives `numpy.zeros`).

It does not resolve names across cells, shadowing by assignments or
parameters, method calls on variables, or IPython cell magics beyond what
`read_cell` does, and it writes nothing: it is a lower bound on the cost of
reading and parsing, not a second extractor.

Usage: .venv/bin/python bench/ast_baseline.py MANIFEST_OR_FOLDER [--json PATH]
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import NotebookError
from ingest.ipython import read_cell
from ingest.limits import DEFAULT_LIMITS
from ingest.notebook import read_notebook
from ingest.sources import iter_inputs, load_plugins, read_input

log = logging.getLogger("bench.ast_baseline")

# Exceptions `ast.parse` raises on text it cannot parse (deep nesting gives the last two).
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)


@dataclass(slots=True)
class AstRows:
    """The imports and uses found in one cell: (line, module, name, alias) and (line, qualified name, is call)."""

    imports: list[tuple[int, str, str | None, str]] = field(default_factory=list)
    uses: list[tuple[int, str, bool]] = field(default_factory=list)


class GatherImportsAndUsesVisitor(ast.NodeVisitor):
    """Collect imports, then uses of the names they bind, in one source-order walk of a cell."""

    def __init__(self) -> None:
        self.rows = AstRows()
        self.bound: dict[str, str] = {}  # local name -> dotted name it stands for

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            bound = alias.asname or alias.name.split(".")[0]
            self.bound[bound] = alias.name if alias.asname else bound
            self.rows.imports.append((node.lineno, alias.name, None, bound))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            bound = alias.asname or alias.name
            if alias.name != "*":
                self.bound[bound] = f"{module}.{alias.name}"
            self.rows.imports.append((node.lineno, module, alias.name, bound))

    def visit_Call(self, node: ast.Call) -> None:
        name = self._qualified(node.func)
        if name is not None:
            self.rows.uses.append((node.lineno, name, True))
            # The chain is recorded; visit only the arguments, not the callee again.
            for child in (*node.args, *node.keywords):
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self._qualified(node)
        if name is not None:
            self.rows.uses.append((node.lineno, name, False))
            return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.bound and isinstance(node.ctx, ast.Load):
            self.rows.uses.append((node.lineno, self.bound[node.id], False))

    def _qualified(self, node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.bound:
            return None
        parts.append(self.bound[node.id])
        return ".".join(reversed(parts))


def extract_cell(text: str) -> AstRows | None:
    """Return the imports and uses of one neutralised cell, or None when `ast` cannot parse it."""
    try:
        tree = ast.parse(text)
    except PARSE_ERRORS:
        return None
    visitor = GatherImportsAndUsesVisitor()
    try:
        visitor.visit(tree)
    except RecursionError:
        return None
    return visitor.rows


@dataclass(slots=True)
class BaselineFigures:
    """What one baseline run read and how long it took, in seconds of this one process."""

    files: int = 0
    python_notebooks: int = 0
    code_cells: int = 0
    parsed_cells: int = 0
    failed_cells: int = 0
    imports: int = 0
    uses: int = 0
    wall_seconds: float = 0.0  # everything: listing, reading, decoding, neutralising, parsing
    parse_cpu_seconds: float = 0.0  # ast.parse and the visitor only

    def as_dict(self) -> dict[str, float | int]:
        wall = max(self.wall_seconds, 1e-9)
        parse = max(self.parse_cpu_seconds, 1e-9)
        return {
            "files": self.files,
            "python_notebooks": self.python_notebooks,
            "code_cells": self.code_cells,
            "parsed_cells": self.parsed_cells,
            "failed_cells": self.failed_cells,
            "imports": self.imports,
            "uses": self.uses,
            "wall_seconds": round(self.wall_seconds, 2),
            "parse_cpu_seconds": round(self.parse_cpu_seconds, 2),
            "files_per_second": round(self.files / wall, 1),
            "code_cells_per_second": round(self.code_cells / wall, 1),
            "parse_code_cells_per_second": round(self.code_cells / parse, 1),
        }


def run_baseline(sources: Sequence[str | Path]) -> BaselineFigures:
    """Read every notebook of the sources and extract its Python code cells with `ast`, on one core."""
    load_plugins()
    figures = BaselineFigures()
    started = time.perf_counter()
    for source in sources:
        for input_file in iter_inputs(source):
            figures.files += 1
            try:
                doc = read_notebook(read_input(input_file, DEFAULT_LIMITS), DEFAULT_LIMITS)
            except NotebookError:
                continue
            if not doc.is_python:
                continue
            figures.python_notebooks += 1
            for cell in doc.cells:
                if cell.cell_type != "code":
                    continue
                figures.code_cells += 1
                code = read_cell(cell.source).code
                if code is None:
                    continue
                _extract_timed(code, figures)
    figures.wall_seconds = time.perf_counter() - started
    return figures


def _extract_timed(code: str, figures: BaselineFigures) -> None:
    started = time.process_time()
    rows = extract_cell(code)
    figures.parse_cpu_seconds += time.process_time() - started
    if rows is None:
        figures.failed_cells += 1
        return
    figures.parsed_cells += 1
    figures.imports += len(rows.imports)
    figures.uses += len(rows.uses)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="manifest CSV, folder, notebook or archive")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    figures = run_baseline(args.sources).as_dict()
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
