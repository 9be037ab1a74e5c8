"""Measure the extractor's speed in code cells per second on one core.

Reads every notebook of a corpus (a manifest CSV with `archive` + `member`
columns pointing into zip archives, read in memory), keeps the Python ones, and
times, in this one process:

1. `extract_notebook` with a fresh `CellCache` (identical cells parsed once);
2. `extract_notebook` without a cache;
3. a plain stdlib-`ast` extractor (parse + `ast.NodeVisitor` gathering imports
   and dotted call names) over the same neutralised cells.

Times are CPU seconds of this process (`time.process_time`) because other load
on the machine slows them less than wall-clock time. Wall-clock seconds are
printed too.

Usage: .venv/bin/python bench/extract_speed.py [--manifest PATH] [--limit N] [--json PATH]
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import logging
import resource
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ingest.cellcache import CellCache
from ingest.errors import NotebookError
from ingest.extract import extract_notebook
from ingest.ipython import read_cell
from ingest.model import CellSource
from ingest.notebook import read_notebook

log = logging.getLogger("bench.extract_speed")

DEFAULT_MANIFEST = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "manifest.csv"

Notebook = tuple[str, list[CellSource]]


def load_notebooks(manifest: Path, limit: int | None) -> list[Notebook]:
    """Read the Python notebooks listed in a manifest, in manifest order."""
    with manifest.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if limit is not None:
        rows = rows[:limit]

    members_by_archive: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        members_by_archive[row["archive"]].append(row["member"])

    notebooks: list[Notebook] = []
    for archive, members in members_by_archive.items():
        with zipfile.ZipFile(manifest.parent / archive) as bundle:
            for member in members:
                try:
                    doc = read_notebook(bundle.read(member))
                except NotebookError:
                    continue
                if doc.is_python:
                    notebooks.append((f"{archive}:{member}", doc.cells))
    return notebooks


class _AstExtractor(ast.NodeVisitor):
    """A minimal stdlib-ast extractor: imports and dotted names of calls."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int]] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((alias.name, node.lineno))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.found.append((f"{node.module}.{alias.name}", node.lineno))

    def visit_Call(self, node: ast.Call) -> None:
        parts = []
        target = node.func
        while isinstance(target, ast.Attribute):
            parts.append(target.attr)
            target = target.value
        if isinstance(target, ast.Name):
            parts.append(target.id)
            self.found.append((".".join(reversed(parts)), node.lineno))
        self.generic_visit(node)


def _time(function) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    function()
    return time.process_time() - cpu, time.perf_counter() - wall


def run(notebooks: Sequence[Notebook]) -> dict[str, float | int]:
    code_cells = sum(1 for _, cells in notebooks for cell in cells if cell.cell_type == "code")
    texts = []
    for _, cells in notebooks:
        for cell in cells:
            if cell.cell_type == "code":
                code = read_cell(cell.source).code
                if code is not None:
                    texts.append(code)

    cache = CellCache(max_entries=10**7)
    rows = {"imports": 0, "uses": 0}

    def with_cache() -> None:
        for notebook_id, cells in notebooks:
            result = extract_notebook(notebook_id, cells, cache)
            rows["imports"] += len(result.imports)
            rows["uses"] += len(result.uses)

    def without_cache() -> None:
        for notebook_id, cells in notebooks:
            extract_notebook(notebook_id, cells, None)

    def with_ast() -> None:
        for text in texts:
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            _AstExtractor().visit(tree)

    cached_cpu, cached_wall = _time(with_cache)
    log.info("with cache: %.1f s CPU", cached_cpu)
    uncached_cpu, uncached_wall = _time(without_cache)
    log.info("without cache: %.1f s CPU", uncached_cpu)
    ast_cpu, ast_wall = _time(with_ast)
    log.info("stdlib ast: %.1f s CPU", ast_cpu)

    return {
        "notebooks": len(notebooks),
        "code_cells": code_cells,
        "python_texts": len(texts),
        "distinct_texts": len(set(texts)),
        "imports": rows["imports"],
        "uses": rows["uses"],
        "cache_hit_rate": round(cache.hit_rate, 4),
        "cached_cpu_s": round(cached_cpu, 1),
        "cached_wall_s": round(cached_wall, 1),
        "cached_cells_per_s": round(code_cells / cached_cpu),
        "uncached_cpu_s": round(uncached_cpu, 1),
        "uncached_wall_s": round(uncached_wall, 1),
        "uncached_cells_per_s": round(code_cells / uncached_cpu),
        "ast_cpu_s": round(ast_cpu, 1),
        "ast_wall_s": round(ast_wall, 1),
        "ast_cells_per_s": round(code_cells / ast_cpu),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="manifest CSV of the corpus")
    parser.add_argument("--limit", type=int, default=None, help="read only the first N manifest rows")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    if not args.manifest.is_file():
        print(f"Error: manifest not found: {args.manifest}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    notebooks = load_notebooks(args.manifest, args.limit)
    log.info("read %d Python notebooks in %.1f s", len(notebooks), time.perf_counter() - started)

    figures = run(notebooks)
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
