"""A small raw warehouse written by hand, whose marts can be worked out on paper.

The rows follow the Arrow schemas of ingest.schema exactly, so the dbt project
reads them as it reads the ingester's output. Eight notebook files hold seven
distinct contents:

| file | content | language | first commit | imports | training calls |
| --- | --- | --- | --- | --- | --- |
| f1 | A | python | 2020-01-15 | boto3, sagemaker | create_training_job on a sagemaker client, fit on an Estimator |
| f2 | B | python | 2020-03-02 | boto (regioninfo), mxnet | `*.fit` on an unresolved receiver |
| f3 | A | python | 2021-01-10 | (copy of f1 in another repository) | |
| f4 | C | python | 2020-03-20 | numpy | |
| f5 | D | r | 2020-02-01 | (not Python) | |
| f6 | E | python | 2020-02-10 | boto3 (s3 clients and resource) | |
| f7 | F | python | no dates | sagemaker | |
| f8 | G | python3 | 2020-03-25 | boto3 (sagemaker client), tensorflow | fit and fit_generator on a Keras model |

Two more input files failed (invalid JSON, a Git LFS pointer) and have only an
outcome row. Counting identical content once, the Python notebooks are A, B, C,
E, F and G: six.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingest.schema import TABLES

Row = dict[str, Any]

INGESTED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def utc(day: str | None) -> datetime | None:
    return None if day is None else datetime.fromisoformat(day).replace(tzinfo=UTC)


def notebook_file(
    file_id: str,
    notebook_id: str,
    repo: str,
    language: str,
    first_commit: str | None,
    last_commit: str | None,
    repo_last_commit: str | None,
) -> Row:
    return {
        "file_id": file_id,
        "notebook_id": notebook_id,
        "source": "manifest.csv",
        "source_kind": "manifest",
        "path": f"notebooks/{repo.replace('/', '__')}.zip",
        "archive": f"notebooks/{repo.replace('/', '__')}.zip",
        "member": f"{file_id}.ipynb",
        "repo": repo,
        "html_url": f"https://github.com/{repo}/blob/main/{file_id}.ipynb",
        "first_commit_at": utc(first_commit),
        "last_commit_at": utc(last_commit),
        "repo_last_commit_at": utc(repo_last_commit),
        "date_origin": "none" if first_commit is None else "manifest",
        "metadata": "{}",
        "language": language,
        "language_origin": "language_info",
        "kernel": "ir" if language == "r" else "python3",
        "nbformat": 4,
        "nbformat_minor": 5,
        "cells": 3,
        "code_cells": 2,
        "size_bytes": 1000,
        "ingested_at": INGESTED_AT,
    }


def outcome(file_id: str, result: str, reason: str | None, notebook_id: str | None) -> Row:
    return {
        "file_id": file_id,
        "source": "manifest.csv",
        "source_kind": "manifest",
        "path": "notebooks/archive.zip",
        "archive": "notebooks/archive.zip",
        "member": f"{file_id}.ipynb",
        "outcome": result,
        "reason": reason,
        "detail": reason or "",
        "notebook_id": notebook_id,
        "ingested_at": INGESTED_AT,
    }


def cell(notebook_id: str, index: int, cell_type: str, status: str) -> Row:
    return {
        "notebook_id": notebook_id,
        "cell_index": index,
        "cell_type": cell_type,
        "language": "python" if cell_type == "code" else None,
        "origin": "cell",
        "status": status,
        "error": "SyntaxError" if status == "failed" else None,
        "lines": 4,
        "cache_hit": False,
    }


def import_row(notebook_id: str, module: str, name: str | None = None, alias: str | None = None) -> Row:
    if name is None:
        kind = "import"
    elif name == "*":
        kind = "star"
    else:
        kind = "from"
    return {
        "notebook_id": notebook_id,
        "cell_index": 0,
        "line": 1,
        "origin": "cell",
        "module": module,
        "package": module.split(".")[0],
        "name": name,
        "alias": alias or name or module.split(".")[0],
        "kind": kind,
        "is_guarded": False,
        "scope": "module",
    }


def reference(notebook_id: str, qualified_name: str, first_arg: str | None = None, via: str | None = None) -> Row:
    """A call of an imported name, such as `boto3.client('s3')`."""
    parts = qualified_name.split(".")
    return {
        "notebook_id": notebook_id,
        "cell_index": 1,
        "line": 1,
        "origin": "cell",
        "use_kind": "reference",
        "qualified_name": qualified_name,
        "package": parts[0],
        "member": parts[1] if len(parts) > 1 else None,
        "is_call": True,
        "first_arg": first_arg,
        "method": None,
        "receiver_origin": None,
        "receiver_arg": None,
        "callee": qualified_name,
        "via": via,
    }


def method_call(notebook_id: str, receiver_origin: str | None, method: str, receiver_arg: str | None = None) -> Row:
    """A method called on an object made by a call, or on an unresolved receiver."""
    if receiver_origin is None:
        callee = f"*.{method}"
        package = member = None
    else:
        made_by = f"{receiver_origin}('{receiver_arg}')" if receiver_arg else f"{receiver_origin}()"
        callee = f"{made_by}.{method}"
        parts = receiver_origin.split(".")
        package, member = parts[0], parts[1]
    return {
        "notebook_id": notebook_id,
        "cell_index": 2,
        "line": 1,
        "origin": "cell",
        "use_kind": "method",
        "qualified_name": receiver_origin,
        "package": package,
        "member": member,
        "is_call": True,
        "first_arg": None,
        "method": method,
        "receiver_origin": receiver_origin,
        "receiver_arg": receiver_arg,
        "callee": callee,
        "via": None,
    }


NOTEBOOKS: list[Row] = [
    notebook_file("f1", "A", "org/one", "python", "2020-01-15", "2020-06-01", "2021-06-30"),
    notebook_file("f2", "B", "org/one", "python", "2020-03-02", "2020-03-02", "2021-06-30"),
    notebook_file("f3", "A", "org/two", "python", "2021-01-10", "2021-01-10", "2022-02-01"),
    notebook_file("f4", "C", "org/three", "python", "2020-03-20", "2020-04-01", "2020-12-31"),
    notebook_file("f5", "D", "org/three", "r", "2020-02-01", "2020-02-01", "2020-12-31"),
    notebook_file("f6", "E", "org/three", "python", "2020-02-10", "2020-02-10", "2020-12-31"),
    notebook_file("f7", "F", "org/four", "python", None, None, None),
    notebook_file("f8", "G", "org/one", "python3", "2020-03-25", "2020-03-25", "2021-06-30"),
]

OUTCOMES: list[Row] = [
    outcome("f1", "ingested", None, "A"),
    outcome("f2", "ingested", None, "B"),
    outcome("f3", "ingested", "already_loaded", "A"),
    outcome("f4", "ingested", None, "C"),
    outcome("f5", "skipped", "not_python", "D"),
    outcome("f6", "ingested", None, "E"),
    outcome("f7", "ingested", None, "F"),
    outcome("f8", "ingested", None, "G"),
    outcome("f9", "failed", "invalid_json", None),
    outcome("f10", "failed", "lfs_pointer", None),
]

CELLS: list[Row] = [
    cell("A", 0, "code", "parsed"),
    cell("A", 1, "code", "parsed"),
    cell("A", 2, "markdown", "not_code"),
    cell("B", 0, "code", "parsed"),
    cell("B", 1, "code", "fallback"),
    cell("C", 0, "code", "parsed"),
    cell("C", 1, "code", "failed"),
    cell("E", 0, "code", "parsed"),
    cell("F", 0, "code", "parsed"),
    cell("G", 0, "code", "parsed"),
    cell("G", 1, "markdown", "not_code"),
]

IMPORTS: list[Row] = [
    import_row("A", "boto3"),
    import_row("A", "sagemaker"),
    import_row("A", "sagemaker.estimator", "Estimator"),
    import_row("B", "boto", "regioninfo"),
    import_row("B", "mxnet", alias="mx"),
    import_row("C", "numpy", alias="np"),
    import_row("E", "boto3"),
    import_row("F", "sagemaker"),
    import_row("G", "boto3"),
    import_row("G", "tensorflow", "keras"),
]

USES: list[Row] = [
    # A: a sagemaker client that starts a training job, and an Estimator that is fitted.
    reference("A", "boto3.client", "sagemaker"),
    method_call("A", "boto3.client", "create_training_job", "sagemaker"),
    reference("A", "sagemaker.estimator.Estimator"),
    method_call("A", "sagemaker.estimator.Estimator", "fit"),
    reference("A", "sagemaker.get_execution_role"),
    # B: boto's regioninfo, two gluon names and a fit on a receiver the ingester could not resolve.
    reference("B", "boto.regioninfo.get_regions", "ec2"),
    reference("B", "mxnet.gluon.nn.Dense"),
    reference("B", "mxnet.gluon.Trainer"),
    method_call("B", None, "fit"),
    # C
    reference("C", "numpy.zeros"),
    # E: two s3 clients, one client of a service held in a variable, an s3 resource.
    reference("E", "boto3.client", "s3"),
    reference("E", "boto3.client", "s3"),
    reference("E", "boto3.client", None),
    reference("E", "boto3.resource", "s3"),
    method_call("E", "boto3.resource", "Bucket", "s3"),
    # F
    reference("F", "sagemaker.get_execution_role"),
    # G: a sagemaker client made through a Session, and a Keras model fitted twice.
    reference("G", "boto3.Session"),
    reference("G", "boto3.client", "sagemaker", via="boto3.Session().client"),
    method_call("G", "boto3.client", "describe_training_job", "sagemaker"),
    reference("G", "tensorflow.keras.models.load_model"),
    method_call("G", "tensorflow.keras.models.load_model", "fit"),
    method_call("G", "tensorflow.keras.models.load_model", "fit_generator"),
]

INSTALLS: list[Row] = [
    {
        "notebook_id": "E",
        "cell_index": 0,
        "line": 1,
        "installer": "pip",
        "package": "boto3",
        "requirement": "boto3",
    },
]

RAW_ROWS: dict[str, list[Row]] = {
    "notebooks": NOTEBOOKS,
    "outcomes": OUTCOMES,
    "cells": CELLS,
    "imports": IMPORTS,
    "uses": USES,
    "installs": INSTALLS,
}


def write_raw_warehouse(warehouse: Path) -> None:
    """Create the raw schema of a new DuckDB file and load the hand-written rows."""
    connection = duckdb.connect(str(warehouse))
    try:
        connection.execute("create schema if not exists raw")
        for table_name, schema in TABLES.items():
            arrow_table = pa.Table.from_pylist(RAW_ROWS[table_name], schema=schema)
            connection.register("incoming_rows", arrow_table)
            connection.execute(f"create or replace table raw.{table_name} as select * from incoming_rows")
            connection.unregister("incoming_rows")
    finally:
        connection.close()
