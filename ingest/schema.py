"""Arrow schemas of the raw tables that the ingest writes and the dbt sources read.

The column names and types here are the contract between the ingester and the
dbt project: staging models select these columns by name. Every table lives in
the `raw` schema of the DuckDB warehouse.

Identity:
- `file_id` identifies one input file (one manifest row, one archive member, one
  path on disk). It is the SHA-256 of the SOURCE argument, the reader and the
  location, so that the same file ingested again gets the same id, and a file
  that two sources list gets one id under each.
- `notebook_id` is the SHA-256 of the notebook's bytes. Two identical files share
  one `notebook_id`; the cells, imports, uses and installs of that content are
  stored once, keyed by `notebook_id`, while `raw.notebooks` keeps one row per
  file so that the models can count duplicates once or every time.
"""

from __future__ import annotations

import pyarrow as pa

NOTEBOOKS = pa.schema(
    [
        ("file_id", pa.string()),
        ("notebook_id", pa.string()),
        ("source", pa.string()),  # the SOURCE argument the file was found under
        ("source_kind", pa.string()),  # folder / file / zip / tar / manifest / git
        ("path", pa.string()),  # file on disk, or the archive for archive members
        ("archive", pa.string()),
        ("member", pa.string()),
        ("repo", pa.string()),
        ("html_url", pa.string()),
        ("first_commit_at", pa.timestamp("us", tz="UTC")),
        ("last_commit_at", pa.timestamp("us", tz="UTC")),
        ("repo_last_commit_at", pa.timestamp("us", tz="UTC")),
        ("date_origin", pa.string()),  # manifest / git / none
        ("metadata", pa.string()),  # JSON object of the other manifest columns
        ("language", pa.string()),  # lower-case, e.g. python, r, julia
        ("language_origin", pa.string()),  # language_info / kernelspec / kernelspec_name / metadata / cell / default
        ("kernel", pa.string()),  # kernelspec.name
        ("nbformat", pa.int32()),
        ("nbformat_minor", pa.int32()),
        ("cells", pa.int32()),
        ("code_cells", pa.int32()),
        ("size_bytes", pa.int64()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)

OUTCOMES = pa.schema(
    [
        ("file_id", pa.string()),
        ("source", pa.string()),
        ("source_kind", pa.string()),
        ("path", pa.string()),
        ("archive", pa.string()),
        ("member", pa.string()),
        ("outcome", pa.string()),  # ingested / failed / skipped
        ("reason", pa.string()),  # short stable code, e.g. invalid_json, lfs_pointer
        ("detail", pa.string()),  # human-readable message
        ("notebook_id", pa.string()),  # null unless the bytes were read
        ("ingested_at", pa.timestamp("us", tz="UTC")),  # the run that last processed the file; reused rows keep it
        # SHA-256 that a re-run compares to skip an unchanged file (see ingest.fingerprint);
        # null when the outcome must not be reused. Last, where ensure_schema adds it to old warehouses.
        ("fingerprint", pa.string()),
    ]
)

CELLS = pa.schema(
    [
        ("notebook_id", pa.string()),
        ("cell_index", pa.int32()),  # 0-based position among all cells
        ("cell_type", pa.string()),  # code / markdown / raw / heading / ...
        ("language", pa.string()),  # python, or the language of a cell magic (bash, html, ...)
        ("origin", pa.string()),  # cell, or writefile:<name>.py
        ("status", pa.string()),  # parsed / fallback / not_python / failed / empty
        ("error", pa.string()),
        ("lines", pa.int32()),
        ("cache_hit", pa.bool_()),
    ]
)

IMPORTS = pa.schema(
    [
        ("notebook_id", pa.string()),
        ("cell_index", pa.int32()),
        ("line", pa.int32()),  # 1-based line inside the cell
        ("origin", pa.string()),  # cell, or writefile:<name>.py
        ("module", pa.string()),  # dotted; relative modules keep their dots
        ("package", pa.string()),  # top-level name; null for relative imports
        ("name", pa.string()),  # imported name, * for star imports, null for `import x`
        ("alias", pa.string()),  # the name bound in the namespace
        ("kind", pa.string()),  # import / from / star / relative / dynamic
        ("is_guarded", pa.bool_()),  # inside a try block
        ("scope", pa.string()),  # module / function / class
    ]
)

USES = pa.schema(
    [
        ("notebook_id", pa.string()),
        ("cell_index", pa.int32()),
        ("line", pa.int32()),
        ("origin", pa.string()),
        # reference: a name or attribute chain that starts at an imported name;
        # method: a method called on an object made by a call (receiver_origin),
        #         or on a receiver that cannot be resolved (callee '*.method').
        ("use_kind", pa.string()),
        ("qualified_name", pa.string()),  # aliases resolved; receiver_origin for method rows
        ("package", pa.string()),
        ("member", pa.string()),  # first component after the package
        ("is_call", pa.bool_()),
        ("first_arg", pa.string()),  # literal first positional argument, or service_name=
        ("method", pa.string()),
        ("receiver_origin", pa.string()),
        ("receiver_arg", pa.string()),
        ("callee", pa.string()),  # canonical callee string; null unless is_call
        ("via", pa.string()),  # the factory as written, when a client was normalised
    ]
)

INSTALLS = pa.schema(
    [
        ("notebook_id", pa.string()),
        ("cell_index", pa.int32()),
        ("line", pa.int32()),
        ("installer", pa.string()),  # pip / conda / mamba
        ("package", pa.string()),  # normalised distribution name
        ("requirement", pa.string()),  # the argument as written
    ]
)

TABLES: dict[str, pa.Schema] = {
    "notebooks": NOTEBOOKS,
    "outcomes": OUTCOMES,
    "cells": CELLS,
    "imports": IMPORTS,
    "uses": USES,
    "installs": INSTALLS,
}

# Tables keyed by notebook content rather than by input file.
CONTENT_TABLES = ("cells", "imports", "uses", "installs")
