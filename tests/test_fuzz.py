"""Fuzz the notebook reader, the IPython neutraliser, the extractor and the archive and manifest readers.

Hypothesis feeds random bytes, random JSON, mutated copies of real notebooks
(the extraction cases beside the repository and the example collection) and
random cell text full of IPython syntax. The contract under test:
- `read_notebook` returns a `NotebookDoc` or raises `NotebookError` with a
  known reason code, nothing else;
- `read_cell` never raises and keeps one output line per input line;
- a worker turns any file into exactly one outcome row, and the extractor
  gives one cells row per cell;
- listing and reading a mutated zip or manifest raises nothing but
  `NotebookError` with a known reason.

Each test runs a bounded number of examples (`FUZZ_EXAMPLES`, default 300),
so CI time stays fixed; set the environment variable to run longer. With
atheris installed, `python tests/test_fuzz.py` runs a coverage-guided fuzzer
over the same contract (see `atheris_main`), and one test runs it briefly.
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import types
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ingest import reasons
from ingest.archives import close_archives, list_zip
from ingest.cellcache import CellCache
from ingest.errors import NotebookError
from ingest.ipython import normalise_newlines, read_cell
from ingest.limits import DEFAULT_LIMITS, Limits
from ingest.manifest import list_manifest
from ingest.model import CellSource
from ingest.notebook import read_notebook
from ingest.sources import InputFile, read_input
from ingest.worker import WorkerConfig, extract_guarded, init_worker, process_chunk

REPO_ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = REPO_ROOT.parent / "shared" / "cases"
EXAMPLES_DIR = REPO_ROOT / "examples"

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# Small limits, so that generated inputs reach them too.
SMALL_LIMITS = Limits(max_file_bytes=20_000, max_cells=20, max_cell_chars=2_000, max_nesting=20)

CELL_STATUSES = {"parsed", "fallback", "failed", "not_python", "not_code"}


def seed_notebooks() -> list[bytes]:
    """The bytes of real notebooks to mutate: the extraction cases when present, and the examples."""
    paths = sorted(EXAMPLES_DIR.rglob("*.ipynb"))
    if CASES_DIR.is_dir():
        paths += sorted(CASES_DIR.glob("*.ipynb"))
    return [path.read_bytes() for path in paths]


SEEDS = seed_notebooks()


# --- strategies ------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)

# Keys and values that a notebook reader looks at, so random objects reach its branches.
notebook_keys = st.sampled_from(
    ["cells", "worksheets", "metadata", "nbformat", "nbformat_minor", "cell_type", "source", "input",
     "language", "kernelspec", "language_info", "name", "outputs"]
)
notebook_like = st.recursive(
    json_scalars | st.sampled_from(["code", "markdown", "raw", "heading", "python", "R", "import os\n"]),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(notebook_keys, children, max_size=6),
    max_leaves=40,
)

# Fragments of cell text: IPython escapes, brackets, quotes, continuations, prompts and line ends.
CODE_FRAGMENTS = [
    "import os", "import numpy as np", "from boto3 import client", "import sagemaker.estimator as est",
    "x = 1", "np.zeros(3)", "est.Estimator().fit()", "%time ", "%timeit -n 3 ", "%%time", "%%bash", "%%capture out",
    "%%writefile train.py", "%%writefile -a notes.txt", "%%script python3", "%%html", "%pip install boto3",
    "!pip install -U sagemaker==2.0", "!ls", "x = !ls", "y = %env", "obj?", "obj??", "?obj", "%%", "%", "!", "?",
    "\\", "(", ")", "[", "]", "{", "}", "'''", '"""', "'", '"', "#", ":", "if x:", "    ", "\t", "def f():",
    "try:", "except ImportError:", "lambda: 0", ">>> ", "... ", "In [1]: ", "   ...: ", "print 'py2'",
    "exec code", "`x`", "0777", "10L", "ur'x'", "\ufeff", "é", "\x00", "\ud800", "\u2028", "\x0c", "%matplotlib inline",
    "get_ipython().run_line_magic('time', '')", "__import__('os')", "importlib.import_module('json')",
    "boto3.client('sagemaker').create_training_job()", ";", ",", "/f 1", "%%sql", "%load_ext x",
]
LINE_ENDS = ["\n", "\r\n", "\r", " ", ""]
cell_text = st.lists(
    st.tuples(st.sampled_from(CODE_FRAGMENTS), st.sampled_from(LINE_ENDS)), max_size=30
).map(lambda parts: "".join(fragment + end for fragment, end in parts)) | st.text(max_size=300)

cell_sources = st.tuples(
    st.sampled_from(["code", "code", "code", "markdown", "raw", "heading", "unknown", ""]),
    cell_text,
    st.none() | st.sampled_from(["python", "python3", "ipython", "r", "julia", "", "PYTHON"]),
)


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few byte-level mutations: flips, inserts, deletions, truncation, splices."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        operation = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate", "splice"]))
        position = draw(st.integers(0, len(data)))
        if operation == "flip" and data:
            data[min(position, len(data) - 1)] = draw(st.integers(0, 255))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif operation == "truncate":
            del data[position:]
        elif operation == "duplicate":
            data[position:position] = data[position : position + draw(st.integers(1, 256))]
        else:
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            data[position:] = other[start:]
    return bytes(data)


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from json_paths(child, (*prefix, index))


@st.composite
def mutated_json(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed notebook with one value somewhere in its JSON replaced by random JSON."""
    seed = draw(st.sampled_from(seeds))
    try:
        document = json.loads(seed.decode("utf-8-sig"))
    except ValueError:
        return seed
    paths = list(json_paths(document))
    path = draw(st.sampled_from(paths))
    replacement = draw(notebook_like | json_values)
    if not path:
        return json.dumps(replacement).encode()
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


notebook_inputs = (
    st.binary(max_size=2000)
    | json_values.map(lambda value: json.dumps(value).encode())
    | notebook_like.map(lambda value: json.dumps(value).encode())
    | (mutated_bytes(SEEDS) if SEEDS else st.nothing())
    | (mutated_json(SEEDS) if SEEDS else st.nothing())
)


# --- the checks ------------------------------------------------------------------


def check_read(data: bytes, limits: Limits) -> None:
    """Read one file's bytes; only NotebookError with a known reason may escape."""
    try:
        doc = read_notebook(data, limits)
    except NotebookError as error:
        event(f"reason: {error.reason}")
        assert error.reason in reasons.OUTCOME_OF_REASON, error.reason
        assert error.detail
        return

    event("read as a notebook")
    assert [cell.index for cell in doc.cells] == list(range(len(doc.cells)))
    for cell in doc.cells:
        assert isinstance(cell.source, str)
        assert isinstance(cell.cell_type, str)
        cell.source.encode("utf-8")  # no unpaired surrogates reach the warehouse
    assert isinstance(doc.language, str) or doc.language is None


def check_read_cell(source: str) -> None:
    cell = read_cell(source)

    assert cell.language
    if cell.code is not None:
        assert cell.code.count("\n") == normalise_newlines(source).count("\n"), "line count changed"
    for line, _install in cell.installs:
        assert 1 <= line <= max(1, normalise_newlines(source).count("\n") + 1)


def check_extract(cells: list[CellSource], cache: CellCache) -> None:
    rows = extract_guarded("fuzz", cells, DEFAULT_LIMITS, cache)

    assert [row["cell_index"] for row in rows.cells] == [cell.index for cell in cells]
    for row in rows.cells:
        assert row["status"] in CELL_STATUSES, row
    indexes = {cell.index for cell in cells}
    for row in [*rows.imports, *rows.uses, *rows.installs]:
        assert row["cell_index"] in indexes, row
        assert row["line"] is None or row["line"] >= 1, row


@given(notebook_inputs)
@FUZZ
def test_fuzz_read_notebook(data: bytes) -> None:
    check_read(data, DEFAULT_LIMITS)


@given(notebook_inputs)
@FUZZ
def test_fuzz_read_notebook_small_limits(data: bytes) -> None:
    check_read(data, SMALL_LIMITS)


@given(cell_text)
@FUZZ
def test_fuzz_read_cell(source: str) -> None:
    check_read_cell(source)


@given(st.lists(cell_sources, max_size=8))
@FUZZ
def test_fuzz_extract_cells(specs: list[tuple[str, str, str | None]]) -> None:
    cells = [CellSource(index, cell_type, source, language) for index, (cell_type, source, language) in enumerate(specs)]

    check_extract(cells, CellCache())


@given(notebook_inputs)
@FUZZ
def test_fuzz_read_then_extract(data: bytes) -> None:
    try:
        doc = read_notebook(data, DEFAULT_LIMITS)
    except NotebookError:
        return

    check_extract(doc.cells, CellCache())


# --- a worker turns any file into one outcome ---------------------------------------


@pytest.fixture(scope="module")
def worker_process_state() -> Iterator[None]:
    """Set up this process as an ingest worker, then restore the SIGINT handler it replaces."""
    handler = signal.getsignal(signal.SIGINT)
    init_worker(WorkerConfig(limits=DEFAULT_LIMITS, ingested_at=datetime.now(UTC), log_level=logging.CRITICAL))
    yield
    signal.signal(signal.SIGINT, handler)


@given(data=notebook_inputs)
@FUZZ
def test_fuzz_worker_one_outcome(worker_process_state: None, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / f"{hashlib.sha256(data).hexdigest()}.ipynb"
    path.write_bytes(data)
    input_file = InputFile(source=str(tmp_path), source_kind="folder", reader="path", path=str(path))

    result = process_chunk([input_file])

    outcomes = result.tables["outcomes"].to_pylist()
    event(f"outcome: {outcomes[0]['outcome'] if outcomes else None} {outcomes[0]['reason'] if outcomes else ''}")
    assert len(outcomes) == 1
    assert result.files == 1
    assert outcomes[0]["outcome"] in ("ingested", "failed", "skipped")
    assert outcomes[0]["reason"] not in ("internal_error", "worker_crashed"), outcomes[0]["detail"]
    # A notebooks row is written for every file decoded as a notebook: ingested, or skipped for its language.
    decoded = outcomes[0]["outcome"] == "ingested" or outcomes[0]["reason"] == "not_python"
    assert result.tables["notebooks"].num_rows == (1 if decoded else 0)


# --- archives and manifests ----------------------------------------------------------


def zip_of_seeds() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, seed in enumerate(SEEDS[:4]):
            archive.writestr(f"dir/notebook_{index}.ipynb", seed)
        archive.writestr("stored.ipynb", SEEDS[0] if SEEDS else b"{}", compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


ZIP_SEED = zip_of_seeds()


@given(mutated_bytes([ZIP_SEED]))
@FUZZ
def test_fuzz_zip_archive(tmp_path: Path, data: bytes) -> None:
    """A damaged zip lists without raising, and each entry reads or raises NotebookError."""
    path = tmp_path / f"{hashlib.sha256(data).hexdigest()}.zip"
    path.write_bytes(data)
    close_archives()

    for input_file in list_zip(str(path), path):
        try:
            read_input(input_file, DEFAULT_LIMITS)
        except NotebookError as error:
            assert error.reason in reasons.OUTCOME_OF_REASON, error.reason
    close_archives()


MANIFEST_SEED = (
    "notebook_path,archive,member,repo,first_commit_at,title\n"
    "a.ipynb,,,me/repo,2020-01-01,x\n"
    ",b.zip,c.ipynb,,2021-02-03T04:05:06Z,y\n"
    ",,,,,\n"
).encode()


@given(mutated_bytes([MANIFEST_SEED, MANIFEST_SEED.decode().encode("utf-16"), MANIFEST_SEED.decode().encode("latin-1")]))
@FUZZ
def test_fuzz_manifest(tmp_path: Path, data: bytes) -> None:
    """A damaged manifest lists without raising; rows it cannot read become failed inputs."""
    path = tmp_path / f"{hashlib.sha256(data).hexdigest()}.csv"
    path.write_bytes(data)

    for input_file in list_manifest(str(path), path):
        if input_file.error is not None:
            assert input_file.error[0] in reasons.OUTCOME_OF_REASON


# --- atheris ---------------------------------------------------------------------------


def atheris_one_input(data: bytes) -> None:
    """The atheris target: read bytes as a notebook, extract it, and read its text as a cell."""
    try:
        doc = read_notebook(data, DEFAULT_LIMITS)
    except NotebookError as error:
        assert error.reason in reasons.OUTCOME_OF_REASON, error.reason
        doc = None
    if doc is not None:
        extract_guarded("atheris", doc.cells, DEFAULT_LIMITS, None)
    check_read_cell(data.decode("utf-8", "replace"))


def atheris_main(argv: list[str]) -> None:
    """Run atheris with libFuzzer's options from argv; the seeds are written to a corpus folder first."""
    import atheris  # type: ignore[import-not-found]  # optional, see the module docstring

    corpus = Path(os.environ.get("FUZZ_CORPUS", "/tmp/nbcensus-fuzz-corpus"))
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in SEEDS:
        (corpus / hashlib.sha256(seed).hexdigest()).write_bytes(seed)
    logging.disable(logging.CRITICAL)
    # The ingest modules are imported already, so their functions are
    # instrumented in place; instrument_all() would take minutes on hypothesis and libcst.
    functions = [
        value
        for value in gc.get_objects()
        if isinstance(value, types.FunctionType) and str(value.__module__).startswith("ingest")
    ]
    for function in functions:
        atheris.instrument_func(function)
    atheris.Setup([argv[0], *argv[1:], str(corpus)], atheris_one_input)
    atheris.Fuzz()


def test_atheris_short_run(tmp_path: Path) -> None:
    """Run the atheris harness for a few thousand inputs when atheris is installed."""
    pytest.importorskip("atheris", reason="atheris is not installed (optional: pip install atheris)")
    environment = dict(os.environ, FUZZ_CORPUS=str(tmp_path / "corpus"))

    result = subprocess.run(
        [sys.executable, __file__, "-runs=3000", "-rss_limit_mb=4096", "-timeout=60"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        timeout=900,
    )

    assert result.returncode == 0, result.stderr[-5000:]
    assert "Done 3000 runs" in result.stderr


if __name__ == "__main__":
    atheris_main(sys.argv)
