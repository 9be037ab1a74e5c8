"""Tests of the notebook reader: both nbformat layouts, encodings, languages and every failure reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingest import reasons
from ingest.errors import NotebookError
from ingest.limits import Limits
from ingest.notebook import language_of_kernel, read_notebook


def encode(notebook: Any, **dump_options: Any) -> bytes:
    return json.dumps(notebook, **dump_options).encode("utf-8")


def v4(cells: list[Any], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}


def code(source: Any) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}


def read_error(data: bytes, limits: Limits | None = None) -> NotebookError:
    with pytest.raises(NotebookError) as caught:
        read_notebook(data, limits)
    return caught.value


def test_v4_cells_in_order() -> None:
    doc = read_notebook(encode(v4([{"cell_type": "markdown", "source": "# Title"}, code("import os\n")])))

    assert [cell.index for cell in doc.cells] == [0, 1]
    assert [cell.cell_type for cell in doc.cells] == ["markdown", "code"]
    assert doc.cells[1].source == "import os\n"
    assert doc.nbformat == 4
    assert doc.nbformat_minor == 5


def test_list_source_joined_without_separator() -> None:
    doc = read_notebook(encode(v4([code(["import os\n", "import sys\n", "x = 1"])])))

    assert doc.cells[0].source == "import os\nimport sys\nx = 1"


def test_string_and_list_sources_agree() -> None:
    as_list = read_notebook(encode(v4([code(["a = 1\n", "b = 2"])])))
    as_string = read_notebook(encode(v4([code("a = 1\nb = 2")])))

    assert as_list.cells == as_string.cells


def test_v3_worksheets_input_and_headings() -> None:
    notebook = {
        "metadata": {"name": "old"},
        "nbformat": 3,
        "nbformat_minor": 0,
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "heading", "level": 1, "source": ["Analysis"]},
                    {"cell_type": "code", "language": "python", "input": ["import numpy as np\n", "np.zeros(3)"]},
                ]
            },
            {"cells": [{"cell_type": "markdown", "source": "notes"}]},
        ],
    }

    doc = read_notebook(encode(notebook))

    assert [cell.cell_type for cell in doc.cells] == ["heading", "code", "markdown"]
    assert doc.cells[0].source == "Analysis"
    assert doc.cells[1].source == "import numpy as np\nnp.zeros(3)"
    assert doc.cells[1].language == "python"
    assert doc.cells[2].index == 2
    assert doc.nbformat == 3
    assert doc.language == "python"
    assert doc.language_origin == "cell"


def test_v3_cell_language_decides() -> None:
    notebook = {
        "metadata": {},
        "nbformat": 3,
        "worksheets": [{"cells": [{"cell_type": "code", "language": "julia", "input": "x = 1"}]}],
    }

    doc = read_notebook(encode(notebook))

    assert doc.language == "julia"
    assert doc.language_origin == "cell"
    assert not doc.is_python


def test_byte_order_mark_is_ignored() -> None:
    doc = read_notebook(b"\xef\xbb\xbf" + encode(v4([code("import os")])))

    assert doc.cells[0].source == "import os"


def test_crlf_file_and_sources_kept_as_written() -> None:
    data = encode(v4([code("import os\r\nimport sys\r\n")]), indent=1).replace(b"\n", b"\r\n")

    doc = read_notebook(data)

    assert doc.cells[0].source == "import os\r\nimport sys\r\n"


def test_cr_only_source_kept() -> None:
    doc = read_notebook(encode(v4([code("import os\rimport sys")])))

    assert doc.cells[0].source == "import os\rimport sys"


def test_utf16_with_byte_order_mark() -> None:
    data = json.dumps(v4([code("import café")]), ensure_ascii=False).encode("utf-16")

    doc = read_notebook(data)

    assert doc.cells[0].source == "import café"


def test_non_ascii_source() -> None:
    doc = read_notebook(json.dumps(v4([code("print('naïve 東京 🚀')")]), ensure_ascii=False).encode())

    assert doc.cells[0].source == "print('naïve 東京 🚀')"


def test_unpaired_surrogate_replaced() -> None:
    data = b'{"cells": [{"cell_type": "code", "source": "s = \'\\ud800\' + \'\\ud83d\\ude80\'"}]}'

    doc = read_notebook(data)

    assert doc.cells[0].source == "s = '\ufffd' + '\U0001f680'"
    doc.cells[0].source.encode("utf-8")


def test_nul_characters_kept() -> None:
    doc = read_notebook(encode(v4([code("x = '\x00'")])))

    assert doc.cells[0].source == "x = '\x00'"


def test_unexpected_cells_tolerated() -> None:
    cells: list[Any] = [
        7,
        None,
        {"source": "no type"},
        {"cell_type": "code", "source": None},
        {"cell_type": "code", "source": ["a = 1\n", 5, None, "b = 2"]},
        {"cell_type": "widget", "source": "?"},
        {"cell_type": "code"},
    ]

    doc = read_notebook(encode(v4(cells)))

    assert [cell.cell_type for cell in doc.cells] == ["invalid", "invalid", "unknown", "code", "code", "widget", "code"]
    assert doc.cells[3].source == ""
    assert doc.cells[4].source == "a = 1\nb = 2"
    assert doc.cells[6].source == ""


def test_empty_notebook_has_no_cells() -> None:
    doc = read_notebook(encode(v4([])))

    assert doc.cells == []
    assert doc.language == "python"


@pytest.mark.parametrize(
    ("metadata", "language", "origin"),
    [
        ({"language_info": {"name": "python", "version": "3.10.4"}}, "python", "language_info"),
        ({"language_info": {"name": "R"}, "kernelspec": {"name": "python3"}}, "r", "language_info"),
        ({"language_info": {"name": "Python_Glue_Session"}}, "python", "language_info"),
        ({"language_info": {"name": "plaintext"}, "kernelspec": {"language": "python"}}, "python", "kernelspec"),
        ({"kernelspec": {"name": "ir", "language": "R", "display_name": "R"}}, "r", "kernelspec"),
        ({"kernelspec": {"name": "python3", "display_name": "Python 3"}}, "python", "kernelspec_name"),
        ({"kernelspec": {"name": "conda_mxnet_p36"}}, "python", "kernelspec_name"),
        ({"kernelspec": {"name": "ir"}}, "r", "kernelspec_name"),
        ({"kernelspec": {"name": "julia-1.9"}}, "julia", "kernelspec_name"),
        ({"kernelspec": {"name": "my-team-env"}}, "python", "default"),
        ({"language": "python"}, "python", "metadata"),
        ({}, "python", "default"),
        ({"language_info": {}, "kernelspec": "broken"}, "python", "default"),
    ],
)
def test_language_and_origin(metadata: dict[str, Any], language: str, origin: str) -> None:
    doc = read_notebook(encode(v4([code("x = 1")], metadata)))

    assert doc.language == language
    assert doc.language_origin == origin


def test_kernel_name_recorded() -> None:
    doc = read_notebook(encode(v4([], {"kernelspec": {"name": "conda_python3", "language": "python"}})))

    assert doc.kernel == "conda_python3"


def test_non_python_notebook_is_not_python() -> None:
    doc = read_notebook(encode(v4([code("library(dplyr)")], {"kernelspec": {"name": "ir", "language": "R"}})))

    assert doc.language == "r"
    assert not doc.is_python


@pytest.mark.parametrize(
    ("kernel", "language"),
    [
        ("python2", "python"),
        ("Python3", "python"),
        ("conda_tensorflow2_p310", "python"),
        ("conda-env-py36-py", "python"),
        ("pysparkkernel", "python"),
        ("sparkkernel", "scala"),
        ("ir", "r"),
        ("julia-1.6", "julia"),
        ("bash", "bash"),
        ("xcpp17", "c++"),
        ("javascript", "javascript"),
        ("tf2-gpu", None),
    ],
)
def test_kernel_name_languages(kernel: str, language: str | None) -> None:
    assert language_of_kernel(kernel) == language


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", reasons.EMPTY_FILE),
        (b" \n\t\r\n", reasons.EMPTY_FILE),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n", reasons.LFS_POINTER),
        (b'{"cells": [\n<<<<<<< HEAD\n{"cell_type": "code"}\n=======\n{}\n>>>>>>> branch\n]}', reasons.MERGE_CONFLICT),
        (b'{"cells": [{"cell_type": "code", "source": "x"}', reasons.INVALID_JSON),
        (b'{"cells": [],}', reasons.INVALID_JSON),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", reasons.INVALID_UTF8),
        (b'{"cells": ["caf\xe9"]}', reasons.INVALID_UTF8),
        (b"\x00\x00\x00\x00", reasons.INVALID_JSON),
        (b"[1, 2, 3]", reasons.NOT_A_NOTEBOOK),
        (b'"notebook"', reasons.NOT_A_NOTEBOOK),
        (b"{}", reasons.NOT_A_NOTEBOOK),
        (b'{"metadata": {}, "nbformat": 4}', reasons.NOT_A_NOTEBOOK),
        (b'{"cells": {"0": {}}}', reasons.NOT_A_NOTEBOOK),
        (b"[" * 100_000 + b"]" * 100_000, reasons.INVALID_JSON),
        (b'{"cells": [], "n": ' + b"9" * 5000 + b"}", reasons.INVALID_JSON),
    ],
)
def test_failure_reasons(data: bytes, reason: str) -> None:
    error = read_error(data)

    assert error.reason == reason
    assert error.detail


def test_too_large_checked_before_decoding() -> None:
    data = encode(v4([code("x = 1")]))

    error = read_error(data, Limits(max_file_bytes=len(data) - 1))

    assert error.reason == reasons.TOO_LARGE
    assert "over the limit" in error.detail


def test_too_many_cells() -> None:
    data = encode(v4([code("x = 1")] * 11))

    error = read_error(data, Limits(max_cells=10))

    assert error.reason == reasons.TOO_MANY_CELLS
    assert read_notebook(data, Limits(max_cells=11)).cells[10].index == 10
