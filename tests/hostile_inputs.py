"""Build a tree of hostile input files in a temporary folder, with the outcome each one must get.

Nothing here is committed as a file: every broken notebook, archive and
manifest is written at test time by `build_hostile_tree(root)`, which returns
the SOURCE arguments to ingest and one `Expected` row per input file that the
ingest must list. The layout under `root`:

- `folder/`: broken and odd notebook files, symlinks, a FIFO, a 50 MB notebook;
- `archives/hostile.zip`, `archives/hostile.tar`: entries with unsafe names,
  bombs, lying headers, encrypted and corrupt entries;
- `manifest*.csv`: manifests with missing files and entries, missing columns,
  Latin-1 and UTF-16 text, a field over the CSV field-size limit;
- `ok/`, `archives/good.zip`, `archives/good.tar`: valid notebooks that the
  manifests point at (not sources themselves).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import random
import struct
import subprocess
import sys
import tarfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INGESTED = "ingested"
FAILED = "failed"
SKIPPED = "skipped"

MEBIBYTE = 1024 * 1024

# Sizes of the large inputs; each stays under the matching default limit of
# ingest.limits, so that these files are read, not skipped.
BIG_NOTEBOOK_BYTES = 50 * MEBIBYTE
MANY_CELLS = 10_000
LONG_LINE_CHARS = 1_000_000  # over the default cell limit, so the cell fails and the notebook stays
DEEP_NESTING = 5_000
DEEP_CHAIN = 20_000  # links of an attribute, call, subscript or operator chain
ZIP_BOMB_BYTES = 100 * MEBIBYTE  # declared and real size of the bomb entry, over the default file limit

# The SOURCE arguments that `build_hostile_tree` returns, relative to its root, in order.
SOURCE_NAMES = (
    "folder",
    "archives/hostile.zip",
    "archives/hostile.tar",
    "archives/junk.zip",
    "archives/truncated.zip",
    "archives/junk.tar.gz",
    "manifest.csv",
    "manifest_latin1.csv",
    "manifest_utf16.csv",
    "manifest_utf8_bom.csv",
    "manifest_missing_columns.csv",
    "manifest_member_without_archive.csv",
    "manifest_empty.csv",
    "manifest_binary.csv",
    "manifest_huge_field.csv",
)

# The code of the plain notebook that every valid input carries, so that each
# ingested file yields at least one import row.
PLAIN_CODE = "import numpy as np\nnp.zeros(3)\n"


@dataclass(frozen=True, slots=True)
class Expected:
    """One input file and the raw.outcomes row it must end with."""

    name: str  # short id of the case, used as the test id
    source: str  # the SOURCE argument (absolute) the file is listed under
    path: str  # raw.outcomes.path: the file, the archive, or the manifest for manifest errors
    member: str | None
    outcome: str
    reason: str | None
    # For ingested files: the cells raw.notebooks must count, the packages
    # raw.imports must hold, and how many of the cells must have status failed.
    cells: int | None = None
    packages: tuple[str, ...] = ()
    failed_cells: int | None = None
    needs_non_root: bool = False  # only holds when permission checks apply (not as root)


@dataclass(slots=True)
class HostileTree:
    """The sources to ingest and what the ingest must record for each listed file."""

    root: Path
    sources: list[str] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    # Files that exist under a source but must not be listed (a folder named
    # x.ipynb, checkpoint copies, macOS resource forks).
    unlisted: list[str] = field(default_factory=list)


# --- notebook builders -------------------------------------------------------


def code_cell(source: str | list[str]) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}


def markdown_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(cells: list[Any], language: str = "python", **metadata: Any) -> dict[str, Any]:
    """Return an nbformat 4 notebook object with the given cells."""
    meta: dict[str, Any] = {
        "kernelspec": {"name": "python3" if language == "python" else language, "language": language},
        "language_info": {"name": language},
    }
    meta.update(metadata)
    return {"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}


def notebook_bytes(cells: list[Any], language: str = "python", **metadata: Any) -> bytes:
    return json.dumps(notebook(cells, language, **metadata), indent=1).encode("utf-8")


def plain_notebook_bytes(extra: str = "") -> bytes:
    """A small valid notebook; `extra` makes its bytes (and its notebook_id) distinct."""
    return notebook_bytes([markdown_cell(f"# plain {extra}"), code_cell(PLAIN_CODE)])


def big_outputs_notebook(size: int) -> bytes:
    """A notebook of about `size` bytes, nearly all of it in one code cell's outputs."""
    # Base64-like text, as an embedded PNG would be; 1 MiB strings keep it quick to build.
    chunk = ("iVBORw0KGgoAAAANSUhEUgAA" * (MEBIBYTE // 24 + 1))[:MEBIBYTE]
    outputs = [
        {"output_type": "display_data", "metadata": {}, "data": {"image/png": chunk}}
        for _ in range(size // MEBIBYTE)
    ]
    cell = code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2])\n")
    cell["outputs"] = outputs
    return notebook_bytes([cell])


# --- zip patching ------------------------------------------------------------

LOCAL_HEADER = b"PK\x03\x04"
CENTRAL_HEADER = b"PK\x01\x02"


def patch_zip_entry(
    data: bytes,
    name: str,
    *,
    flag_bits: int | None = None,
    compress_type: int | None = None,
    file_size: int | None = None,
) -> bytes:
    """Rewrite fields of one entry in both its local and its central-directory header.

    `zipfile` cannot write an entry that lies about itself, so the archive is
    written honestly and then patched at the byte offsets of the zip format
    (APPNOTE 4.3.7 and 4.3.12).
    """
    buffer = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    encoded = name.encode("utf-8")
    central = buffer.find(CENTRAL_HEADER)
    while central != -1:
        name_length = struct.unpack_from("<H", buffer, central + 28)[0]
        if bytes(buffer[central + 46 : central + 46 + name_length]) == encoded:
            break
        central = buffer.find(CENTRAL_HEADER, central + 4)
    assert buffer[local : local + 4] == LOCAL_HEADER, f"no local header for entry {name!r}"
    assert central != -1, f"no central-directory header for entry {name!r}"

    # (offset in local header, offset in central header, struct format, value)
    fields = [
        (6, 8, "<H", flag_bits),
        (8, 10, "<H", compress_type),
        (22, 24, "<I", file_size),
    ]
    for local_offset, central_offset, layout, value in fields:
        if value is None:
            continue
        struct.pack_into(layout, buffer, local + local_offset, value)
        struct.pack_into(layout, buffer, central + central_offset, value)
    return bytes(buffer)


def write_zip_bomb_entry(archive: zipfile.ZipFile, name: str, size: int) -> None:
    """Write an entry of `size` bytes of spaces, deflated to about a thousandth of that."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    block = b" " * MEBIBYTE
    with archive.open(info, "w", force_zip64=size > 2**31) as handle:
        for _ in range(size // MEBIBYTE):
            handle.write(block)


# --- the tree ----------------------------------------------------------------


def build_hostile_tree(root: Path) -> HostileTree:
    """Write every hostile input under `root` and return the sources and expected outcomes."""
    tree = HostileTree(root=root)
    ok = _build_ok_folder(root / "ok")
    archives = root / "archives"
    archives.mkdir()
    _build_good_archives(archives)

    _build_folder(tree, root / "folder")
    _build_hostile_zip(tree, archives / "hostile.zip")
    _build_hostile_tar(tree, archives / "hostile.tar")
    _build_corrupt_archives(tree, archives)
    _build_manifests(tree, root, ok)

    built = [os.path.relpath(source, root) for source in tree.sources]
    assert built == list(SOURCE_NAMES), f"sources built {built}, declared {SOURCE_NAMES}"
    return tree


def _abs(path: Path) -> str:
    return os.path.abspath(path)


def _build_ok_folder(ok: Path) -> Path:
    ok.mkdir()
    (ok / "plain.ipynb").write_bytes(plain_notebook_bytes("ok"))
    (ok / "café.ipynb").write_bytes(plain_notebook_bytes("café"))
    (ok / "dir.ipynb").mkdir()
    os.mkfifo(ok / "fifo.ipynb")
    return ok


def _build_good_archives(archives: Path) -> None:
    with zipfile.ZipFile(archives / "good.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner/plain.ipynb", plain_notebook_bytes("good.zip"))
    with tarfile.open(archives / "good.tar", "w") as archive:
        _add_tar_bytes(archive, "inner/plain.ipynb", plain_notebook_bytes("good.tar"))
    (archives / "corrupt.zip").write_bytes(b"PK\x03\x04" + bytes(random.Random(7).randrange(256) for _ in range(2000)))


def _add_tar_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _build_folder(tree: HostileTree, folder: Path) -> None:
    """Write the broken notebook files of the folder source."""
    folder.mkdir()
    source = _abs(folder)
    tree.sources.append(source)

    def add(name: str, data: bytes, outcome: str, reason: str | None, **checks: Any) -> Path:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        tree.expected.append(Expected(name, source, _abs(path), None, outcome, reason, **checks))
        return path

    valid = plain_notebook_bytes("folder")

    # Not JSON, or not a notebook.
    add("invalid_json.ipynb", b'{"cells": [,], "nbformat": 4}', FAILED, "invalid_json")
    add("truncated.ipynb", valid[: len(valid) // 2], FAILED, "invalid_json")
    add("empty.ipynb", b"", FAILED, "empty_file")
    add("whitespace.ipynb", b" \r\n\t\n", FAILED, "empty_file")
    add(
        "lfs_pointer.ipynb",
        b"version https://git-lfs.github.com/spec/v1\n"
        b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n",
        FAILED,
        "lfs_pointer",
    )
    conflict = valid.replace(b'"cells": [', b'"cells": [\n<<<<<<< HEAD\n', 1)
    conflict = conflict.replace(b'"metadata": {\n  "kernelspec"', b'=======\n>>>>>>> branch\n "metadata": {\n  "kernelspec"', 1)
    add("merge_conflict.ipynb", conflict, FAILED, "merge_conflict")
    junk = b"\x89PNG\r\n\x1a\n\xff\xfe\x00" + bytes(random.Random(1).randrange(256) for _ in range(4096))
    add("binary_junk.ipynb", junk, FAILED, "invalid_utf8")
    add("gzip_junk.ipynb", b"\x1f\x8b\x08\x00" + valid, FAILED, "invalid_utf8")
    add("json_list.ipynb", b"[1, 2, 3]", FAILED, "not_a_notebook")
    add("json_string.ipynb", b'"import os"', FAILED, "not_a_notebook")
    add("json_null.ipynb", b"null", FAILED, "not_a_notebook")
    add("json_number.ipynb", b"4", FAILED, "not_a_notebook")
    add("dict_without_cells.ipynb", b'{"metadata": {}, "nbformat": 4}', FAILED, "not_a_notebook")
    add("cells_not_a_list.ipynb", b'{"cells": {"0": "import os"}, "nbformat": 4}', FAILED, "not_a_notebook")
    add("deep_json.ipynb", b'{"cells": [], "metadata": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", FAILED, "invalid_json")
    add("huge_integer.ipynb", b'{"cells": [], "nbformat": ' + b"9" * 10_000 + b"}", FAILED, "invalid_json")
    add("invalid_utf8.ipynb", valid.replace(b"np.zeros", b"np.z\xc3\x28eros", 1), FAILED, "invalid_utf8")
    add("raw_nul_bytes.ipynb", valid.replace(b"np.zeros", b"np.\x00zeros", 1), FAILED, "invalid_json")

    # Cells of unexpected types: each becomes a cell with no source; the rest is read.
    odd_cells = [
        "import os",
        42,
        None,
        ["import sys"],
        {"source": 5},
        {"cell_type": 3, "source": "import json"},
        {"cell_type": "code"},
        {"cell_type": "code", "source": ["import pandas as pd\n", 7, None, {"a": 1}]},
        {"cell_type": "code", "source": {"code": "import os"}},
        {"cell_type": "code", "source": None, "outputs": "not a list"},
        {"cell_type": "", "source": "import os"},
        {"cell_type": "code", "source": "import boto3\n", "language": 12},
    ]
    add("odd_cells.ipynb", notebook_bytes(odd_cells), INGESTED, None, cells=len(odd_cells), packages=("pandas", "boto3"))
    odd_metadata = {
        "cells": [code_cell(PLAIN_CODE)],
        "metadata": {"kernelspec": "python3", "language_info": {"name": 5}},
        "nbformat": "4",
        "nbformat_minor": 2**40,
    }
    add("odd_metadata.ipynb", json.dumps(odd_metadata).encode(), INGESTED, None, cells=1, packages=("numpy",))
    add("metadata_list.ipynb", json.dumps({"cells": [code_cell(PLAIN_CODE)], "metadata": []}).encode(), INGESTED, None, cells=1)
    nbformat3 = {
        "nbformat": 3,
        "metadata": {},
        "worksheets": [{"cells": [{"cell_type": "code", "language": "python", "input": "import scipy\n"}]}, 5, None],
    }
    add("nbformat3_odd_worksheets.ipynb", json.dumps(nbformat3).encode(), INGESTED, None, cells=1, packages=("scipy",))

    # Text oddities that still decode.
    add("nul_escape.ipynb", notebook_bytes([code_cell("import os\x00\nimport re\n"), code_cell(PLAIN_CODE)]), INGESTED, None, cells=2, packages=("numpy",))
    surrogates = notebook_bytes(
        [code_cell("import os\ns = '\ud800'\n# \udfff\n"), code_cell("import sys  # \udc80\n")],
        kernelspec={"name": "python3\ud800", "language": "python"},
        title="\udbff",
    )
    add("unpaired_surrogates.ipynb", surrogates, INGESTED, None, cells=2, packages=("os", "sys"))
    add("utf8_bom.ipynb", codecs.BOM_UTF8 + plain_notebook_bytes("bom"), INGESTED, None, cells=2, packages=("numpy",))
    add("utf16_bom.ipynb", plain_notebook_bytes("utf16").decode().encode("utf-16"), INGESTED, None, cells=2, packages=("numpy",))
    add("cr_line_ends.ipynb", notebook_bytes([code_cell("import os\rimport json\r\nimport re\n")]), INGESTED, None, cells=1, packages=("os", "json", "re"))

    # Sizes under the default limits.
    add("big_outputs.ipynb", big_outputs_notebook(BIG_NOTEBOOK_BYTES), INGESTED, None, cells=1, packages=("matplotlib",))
    many = [code_cell(f"import numpy as np\nx{index} = np.ones({index})\n") for index in range(MANY_CELLS)]
    add("many_cells.ipynb", notebook_bytes(many), INGESTED, None, cells=MANY_CELLS, packages=("numpy",), failed_cells=0)
    long_line = "import pandas\nx = '" + "a" * LONG_LINE_CHARS + "'\n"
    add("long_line.ipynb", notebook_bytes([code_cell(long_line), code_cell(PLAIN_CODE)]), INGESTED, None, cells=2, packages=("numpy",), failed_cells=1)

    # Nesting deep enough to exhaust a recursive parser: the cell fails, the notebook stays.
    deep_cells = [
        code_cell("x = " + "(" * DEEP_NESTING + "1" + ")" * DEEP_NESTING),
        code_cell("x = " + "[" * DEEP_NESTING + "]" * DEEP_NESTING),
        code_cell("x = " + "not " * DEEP_NESTING + "y"),
        code_cell("x = " + "-" * DEEP_NESTING + "1"),
        code_cell("f = " + "lambda: " * DEEP_NESTING + "1"),
        code_cell(PLAIN_CODE),
    ]
    add("deep_nesting.ipynb", notebook_bytes(deep_cells), INGESTED, None, cells=len(deep_cells), packages=("numpy",), failed_cells=5)
    # Chains without brackets nest the tree as deeply; each such cell is failed
    # or read by the import fallback, quickly, and the notebook stays.
    chains = [
        "x = a" + "[0]" * DEEP_CHAIN,
        "import os\nx = os" + ".path" * DEEP_CHAIN,
        "x = f" + "()" * DEEP_CHAIN,
        "x = " + " + ".join(["a"] * DEEP_CHAIN),
        "x = " + "1 if a else " * DEEP_CHAIN + "2",
        "x = " + "**".join(["2"] * DEEP_CHAIN),
        "x = " + " and ".join(["a"] * DEEP_CHAIN),
        "x = " + " or ".join(["a"] * DEEP_CHAIN),
    ]
    chain_cells = [code_cell(chain) for chain in chains] + [code_cell(PLAIN_CODE)]
    add("deep_chains.ipynb", notebook_bytes(chain_cells), INGESTED, None, cells=len(chain_cells), packages=("numpy",))

    # Not Python.
    add("r_notebook.ipynb", notebook_bytes([code_cell("library(dplyr)\n")], language="R"), SKIPPED, "not_python")

    # Files that cannot be read.
    os.mkfifo(folder / "fifo.ipynb")
    tree.expected.append(Expected("fifo", source, _abs(folder / "fifo.ipynb"), None, FAILED, "unreadable"))
    (folder / "directory.ipynb").mkdir()
    (folder / "directory.ipynb" / "inside.ipynb").write_bytes(plain_notebook_bytes("inside a folder named .ipynb"))
    tree.expected.append(
        Expected("inside_directory_named_ipynb", source, _abs(folder / "directory.ipynb" / "inside.ipynb"), None, INGESTED, None, cells=2)
    )
    tree.unlisted.append(_abs(folder / "directory.ipynb"))
    # Root reads a file with mode 000 anyway, so the tests skip this expectation as root.
    locked = add("no_permission.ipynb", plain_notebook_bytes("locked"), FAILED, "unreadable", needs_non_root=True)
    locked.chmod(0)

    # Symlinks: a loop of folders, a loop of files, a dangling link, a link to a valid file.
    loop = folder / "loop"
    loop.mkdir()
    (loop / "in_loop.ipynb").write_bytes(plain_notebook_bytes("loop"))
    tree.expected.append(Expected("symlink_loop_folder", source, _abs(loop / "in_loop.ipynb"), None, INGESTED, None, cells=2))
    (loop / "again").symlink_to("..", target_is_directory=True)
    (loop / "self").symlink_to(".", target_is_directory=True)
    (folder / "link_a.ipynb").symlink_to("link_b.ipynb")
    (folder / "link_b.ipynb").symlink_to("link_a.ipynb")
    tree.expected.append(Expected("symlink_loop_a", source, _abs(folder / "link_a.ipynb"), None, FAILED, "unreadable"))
    tree.expected.append(Expected("symlink_loop_b", source, _abs(folder / "link_b.ipynb"), None, FAILED, "unreadable"))
    (folder / "dangling.ipynb").symlink_to("nowhere/missing.ipynb")
    tree.expected.append(Expected("dangling_symlink", source, _abs(folder / "dangling.ipynb"), None, FAILED, "missing_file"))
    (folder / "link_to_valid.ipynb").symlink_to(folder / "utf8_bom.ipynb")
    tree.expected.append(Expected("symlink_to_valid", source, _abs(folder / "link_to_valid.ipynb"), None, INGESTED, None, cells=2))

    # A file name that is not valid UTF-8: stored with U+FFFD in raw.outcomes.path.
    bad_name = os.fsencode(folder) + b"/bad_name_\xff.ipynb"
    with open(bad_name, "wb") as handle:
        handle.write(plain_notebook_bytes("bad name"))
    stored_path = os.fsdecode(bad_name).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    tree.expected.append(Expected("undecodable_file_name", source, stored_path, None, INGESTED, None, cells=2))

    # Files the folder walk must not list.
    checkpoints = folder / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "plain-checkpoint.ipynb").write_bytes(b"not even json")
    tree.unlisted.append(_abs(checkpoints / "plain-checkpoint.ipynb"))


def _build_hostile_zip(tree: HostileTree, path: Path) -> None:
    """Write a zip whose entries escape, explode, lie, or cannot be decoded."""
    source = _abs(path)
    tree.sources.append(source)

    def expect(name: str, member: str, outcome: str, reason: str | None, **checks: Any) -> None:
        tree.expected.append(Expected(name, source, source, member, outcome, reason, **checks))

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ok/plain.ipynb", plain_notebook_bytes("hostile.zip"))
        expect("zip_plain", "ok/plain.ipynb", INGESTED, None, cells=2, packages=("numpy",))

        for member, name in (
            ("../../evil.ipynb", "zip_parent_path"),
            ("/tmp/abs.ipynb", "zip_absolute_path"),
            ("a/../../b.ipynb", "zip_inner_parent_path"),
            ("C:/windows.ipynb", "zip_drive_letter"),
            ("..\\backslash.ipynb", "zip_backslash_parent_path"),
        ):
            archive.writestr(member, plain_notebook_bytes(member))
            expect(name, member, SKIPPED, "unsafe_member_path")

        write_zip_bomb_entry(archive, "bomb.ipynb", ZIP_BOMB_BYTES)
        expect("zip_bomb", "bomb.ipynb", SKIPPED, "too_large")

        archive.writestr("liar.ipynb", plain_notebook_bytes("liar") + b" " * (4 * MEBIBYTE))
        archive.writestr("encrypted.ipynb", plain_notebook_bytes("encrypted"))
        archive.writestr("odd_method.ipynb", plain_notebook_bytes("odd method"))
        archive.writestr("bad_stream.ipynb", plain_notebook_bytes("bad stream") * 20)
        archive.writestr("empty.ipynb", b"")
        expect("zip_empty_entry", "empty.ipynb", FAILED, "empty_file")
        archive.writestr("json_list.ipynb", b"[]")
        expect("zip_json_list", "json_list.ipynb", FAILED, "not_a_notebook")
        # The same name twice: listed once, and the last entry is the one read.
        archive.writestr("twice.ipynb", b"first entry, not JSON")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
            archive.writestr("twice.ipynb", plain_notebook_bytes("zip twice"))
        expect("zip_duplicate_name", "twice.ipynb", INGESTED, None, cells=2)

        # Not listed: a folder entry named like a notebook, macOS resource forks, checkpoints.
        archive.writestr("folder.ipynb/", b"")
        archive.writestr("__MACOSX/ok/._plain.ipynb", b"\x00\x05\x16\x07")
        archive.writestr("ok/.ipynb_checkpoints/plain-checkpoint.ipynb", b"junk")

    data = path.read_bytes()
    # A header that declares 100 bytes for an entry of 4 MiB: reading stops at
    # the declared size and the CRC check fails.
    data = patch_zip_entry(data, "liar.ipynb", file_size=100)
    expect("zip_lying_header", "liar.ipynb", FAILED, "unreadable")
    # The encryption flag without a password.
    data = patch_zip_entry(data, "encrypted.ipynb", flag_bits=0x1)
    expect("zip_encrypted", "encrypted.ipynb", FAILED, "unreadable")
    # A compression method number that no reader implements.
    data = patch_zip_entry(data, "odd_method.ipynb", compress_type=77)
    expect("zip_unknown_compression", "odd_method.ipynb", FAILED, "unreadable")
    path.write_bytes(_corrupt_deflate_stream(data, "bad_stream.ipynb"))
    expect("zip_corrupt_deflate_stream", "bad_stream.ipynb", FAILED, "unreadable")


def _corrupt_deflate_stream(data: bytes, name: str) -> bytes:
    """Overwrite the start of an entry's compressed data with bytes that are not deflate."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    buffer = bytearray(data)
    name_length, extra_length = struct.unpack_from("<HH", buffer, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    # Block type 3 (reserved) is invalid in every deflate stream.
    buffer[start : start + 8] = b"\xff" * 8
    return bytes(buffer)


def _build_hostile_tar(tree: HostileTree, path: Path) -> None:
    source = _abs(path)
    tree.sources.append(source)

    def expect(name: str, member: str, outcome: str, reason: str | None, **checks: Any) -> None:
        tree.expected.append(Expected(name, source, source, member, outcome, reason, **checks))

    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as archive:
        _add_tar_bytes(archive, "ok/plain.ipynb", plain_notebook_bytes("hostile.tar"))
        expect("tar_plain", "ok/plain.ipynb", INGESTED, None, cells=2, packages=("numpy",))
        _add_tar_bytes(archive, "../evil.ipynb", plain_notebook_bytes("tar evil"))
        expect("tar_parent_path", "../evil.ipynb", SKIPPED, "unsafe_member_path")
        _add_tar_bytes(archive, "/abs.ipynb", plain_notebook_bytes("tar abs"))
        expect("tar_absolute_path", "/abs.ipynb", SKIPPED, "unsafe_member_path")
        _add_tar_bytes(archive, "ok/lfs.ipynb", b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n")
        expect("tar_lfs_pointer", "ok/lfs.ipynb", FAILED, "lfs_pointer")
        # The same name twice: both entries are listed, each by its own header offset.
        _add_tar_bytes(archive, "ok/twice.ipynb", plain_notebook_bytes("tar twice 1"))
        _add_tar_bytes(archive, "ok/twice.ipynb", plain_notebook_bytes("tar twice 2"))
        expect("tar_duplicate_name_1", "ok/twice.ipynb", INGESTED, None, cells=2)
        expect("tar_duplicate_name_2", "ok/twice.ipynb", INGESTED, None, cells=2)

        # Links are not listed: a symlink could point anywhere on the reader's disk.
        for name, kind, target in (
            ("link_to_passwd.ipynb", tarfile.SYMTYPE, "/etc/passwd"),
            ("hardlink.ipynb", tarfile.LNKTYPE, "ok/plain.ipynb"),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            archive.addfile(info)
        device = tarfile.TarInfo("device.ipynb")
        device.type = tarfile.CHRTYPE
        archive.addfile(device)


def _build_corrupt_archives(tree: HostileTree, archives: Path) -> None:
    """Archives that cannot be opened at all: each is one failed input."""
    junk_zip = archives / "junk.zip"
    junk_zip.write_bytes(b"this is not a zip archive\n" * 10)
    truncated_zip = archives / "truncated.zip"
    truncated_zip.write_bytes((archives / "good.zip").read_bytes()[:-30])
    junk_tar = archives / "junk.tar.gz"
    junk_tar.write_bytes(b"\x1f\x8b\x08\x00" + b"not gzip data" * 10)
    for name, path in (("junk_zip", junk_zip), ("truncated_zip", truncated_zip), ("junk_tar", junk_tar)):
        source = _abs(path)
        tree.sources.append(source)
        tree.expected.append(Expected(name, source, source, None, FAILED, "unreadable"))


def _build_manifests(tree: HostileTree, root: Path, ok: Path) -> None:
    """Write manifests with broken rows, missing columns, and other encodings."""
    header = ["notebook_path", "archive", "member", "repo", "first_commit_at", "title"]
    rows: list[tuple[str, list[str], str, str | None, str | None, str | None]] = [
        # (case name, row, outcome, reason, expected path relative to root, member)
        ("manifest_plain", ["ok/plain.ipynb", "", "", "me/repo", "2020-01-02", "plain"], INGESTED, None, "ok/plain.ipynb", None),
        ("manifest_repeated_row", ["ok/plain.ipynb", "", "", "", "", "again"], INGESTED, None, "ok/plain.ipynb", None),
        ("manifest_missing_file", ["ok/missing.ipynb", "", "", "", "", ""], FAILED, "missing_file", "ok/missing.ipynb", None),
        ("manifest_zip_member", ["", "archives/good.zip", "inner/plain.ipynb", "", "", ""], INGESTED, None, "archives/good.zip", "inner/plain.ipynb"),
        ("manifest_tar_member", ["", "archives/good.tar", "inner/plain.ipynb", "", "", ""], INGESTED, None, "archives/good.tar", "inner/plain.ipynb"),
        ("manifest_missing_member", ["", "archives/good.zip", "inner/nothere.ipynb", "", "", ""], FAILED, "missing_member", "archives/good.zip", "inner/nothere.ipynb"),
        ("manifest_missing_tar_member", ["", "archives/good.tar", "nothere.ipynb", "", "", ""], FAILED, "missing_member", "archives/good.tar", "nothere.ipynb"),
        ("manifest_missing_archive", ["", "archives/nothere.zip", "x.ipynb", "", "", ""], FAILED, "missing_file", "archives/nothere.zip", "x.ipynb"),
        ("manifest_corrupt_archive", ["", "archives/corrupt.zip", "x.ipynb", "", "", ""], FAILED, "unreadable", "archives/corrupt.zip", "x.ipynb"),
        ("manifest_unsafe_member", ["", "archives/good.zip", "../escape.ipynb", "", "", ""], SKIPPED, "unsafe_member_path", "archives/good.zip", "../escape.ipynb"),
        ("manifest_no_location", ["", "", "", "me/repo", "", "nowhere"], FAILED, "missing_location", "manifest.csv", None),
        ("manifest_directory", ["ok/dir.ipynb", "", "", "", "", ""], FAILED, "unreadable", "ok/dir.ipynb", None),
        ("manifest_fifo", ["ok/fifo.ipynb", "", "", "", "", ""], FAILED, "unreadable", "ok/fifo.ipynb", None),
        ("manifest_nul_in_path", ["ok/pl\x00ain.ipynb", "", "", "", "", ""], FAILED, "missing_file", "ok/pl\x00ain.ipynb", None),
        ("manifest_nul_in_archive", ["", "archives/go\x00od.zip", "x.ipynb", "", "", ""], FAILED, "missing_file", "archives/go\x00od.zip", "x.ipynb"),
        ("manifest_nul_in_member", ["", "archives/good.zip", "inner/pl\x00ain.ipynb", "", "", ""], SKIPPED, "unsafe_member_path", "archives/good.zip", "inner/pl\x00ain.ipynb"),
        ("manifest_bad_date", ["ok/café.ipynb", "", "", "", "not a date", ""], INGESTED, None, "ok/café.ipynb", None),
        ("manifest_extra_values", ["ok/plain.ipynb", "", "", "", "", "x", "surplus", "values"], INGESTED, None, "ok/plain.ipynb", None),
        ("manifest_short_row", ["ok/café.ipynb"], INGESTED, None, "ok/café.ipynb", None),
    ]
    manifest = root / "manifest.csv"
    _write_manifest(manifest, header, [row for _, row, *_ in rows], "utf-8")
    source = _abs(manifest)
    tree.sources.append(source)
    for name, _, outcome, reason, relative, member in rows:
        tree.expected.append(Expected(name, source, _abs(root / relative), member, outcome, reason))

    # Other encodings: the path `ok/café.ipynb` only matches the file on disk when decoded right.
    for name, encoding in (("manifest_latin1", "latin-1"), ("manifest_utf16", "utf-16"), ("manifest_utf8_bom", "utf-8-sig")):
        path = root / f"{name}.csv"
        _write_manifest(path, ["title", "notebook_path"], [["Café", "ok/café.ipynb"], ["naïve", "ok/plain.ipynb"]], encoding)
        source = _abs(path)
        tree.sources.append(source)
        tree.expected.append(Expected(f"{name}_cafe", source, _abs(ok / "café.ipynb"), None, INGESTED, None))
        tree.expected.append(Expected(f"{name}_plain", source, _abs(ok / "plain.ipynb"), None, INGESTED, None))

    # Manifests that cannot be read as a whole: one failed input each.
    broken = {
        "manifest_missing_columns": b"repo,url\nme/repo,https://example.invalid/\n",
        "manifest_member_without_archive": b"member,repo\nx.ipynb,me/repo\n",
        "manifest_empty": b"",
        "manifest_binary": b"\xff\xfe\x00\x00\x89PNG" + bytes(range(256)),
    }
    for name, data in broken.items():
        path = root / f"{name}.csv"
        path.write_bytes(data)
        source = _abs(path)
        tree.sources.append(source)
        tree.expected.append(Expected(name, source, source, None, FAILED, "invalid_manifest"))

    # A field over the csv module's field-size limit: the rows before it are
    # read, the rest of the file is one failed input.
    path = root / "manifest_huge_field.csv"
    big = "x" * (csv.field_size_limit() + 10)
    path.write_text(f"notebook_path,title\nok/plain.ipynb,first\nok/plain.ipynb,{big}\nok/café.ipynb,never read\n", encoding="utf-8")
    source = _abs(path)
    tree.sources.append(source)
    tree.expected.append(Expected("manifest_huge_field_first_row", source, _abs(ok / "plain.ipynb"), None, INGESTED, None))
    tree.expected.append(Expected("manifest_huge_field", source, source, None, FAILED, "invalid_manifest"))


def _write_manifest(path: Path, header: list[str], rows: list[list[str]], encoding: str) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(text.getvalue().encode(encoding))


# --- running the CLI ---------------------------------------------------------

NBCENSUS = Path(sys.executable).parent / "nbcensus"


def ingest_command(sources: list[str], warehouse: Path, *options: str) -> list[str]:
    return [str(NBCENSUS), "ingest", *sources, "--warehouse", str(warehouse), "--quiet", *options]


def run_ingest(
    sources: list[str],
    warehouse: Path,
    *options: str,
    cwd: Path | None = None,
    timeout: float = 1800,
    environment: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `nbcensus ingest` in a subprocess and return it, whatever its exit status.

    `environment` adds variables to this process's environment for the run.
    """
    return subprocess.run(
        ingest_command(sources, warehouse, *options),
        cwd=cwd,
        env={**os.environ, **environment} if environment else None,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        timeout=timeout,
    )


def summary_counts(stderr: str) -> dict[str, int]:
    """Read the per-outcome totals from the summary that `nbcensus ingest` prints."""
    counts: dict[str, int] = {}
    for line in stderr.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in (INGESTED, FAILED, SKIPPED) and line.startswith("  "):
            counts[words[0]] = int(words[1].replace(",", ""))
    return counts
