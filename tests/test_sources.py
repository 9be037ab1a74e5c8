"""Tests of SOURCE listing and reading: folders, files, zip and tar archives, manifests."""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest import reasons
from ingest.archives import close_archives
from ingest.errors import NbcensusError, NotebookError
from ingest.limits import Limits
from ingest.sources import InputFile, iter_inputs, read_input

LIMITS = Limits()


def notebook_bytes(source: str = "import os\n") -> bytes:
    notebook = {"cells": [{"cell_type": "code", "source": source}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(notebook).encode()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read_reason(input_file: InputFile, limits: Limits = LIMITS) -> str:
    with pytest.raises(NotebookError) as caught:
        read_input(input_file, limits)
    return caught.value.reason


@pytest.fixture(autouse=True)
def fresh_archive_cache() -> None:
    # Archives are cached per process by path; tests rewrite files at the same paths.
    close_archives()


def test_folder_recursive_sorted_and_skips_checkpoints(tmp_path: Path) -> None:
    write(tmp_path / "b.ipynb", notebook_bytes())
    write(tmp_path / "a" / "deep" / "x.ipynb", notebook_bytes())
    write(tmp_path / "a" / ".ipynb_checkpoints" / "x-checkpoint.ipynb", notebook_bytes())
    write(tmp_path / "a" / "notes.txt", b"not a notebook")
    write(tmp_path / "UPPER.IPYNB", notebook_bytes())

    inputs = list(iter_inputs(tmp_path))

    relative = [os.path.relpath(str(item.path), tmp_path) for item in inputs]
    assert relative == ["UPPER.IPYNB", "b.ipynb", os.path.join("a", "deep", "x.ipynb")]
    assert {item.source_kind for item in inputs} == {"folder"}
    assert {item.source for item in inputs} == {str(tmp_path)}
    assert read_input(inputs[1], LIMITS) == notebook_bytes()


def test_folder_symlink_loop_terminates(tmp_path: Path) -> None:
    write(tmp_path / "top" / "n.ipynb", notebook_bytes())
    os.symlink(tmp_path / "top", tmp_path / "top" / "loop")
    os.symlink(tmp_path, tmp_path / "top" / "up")

    inputs = list(iter_inputs(tmp_path / "top"))

    assert [Path(str(item.path)).name for item in inputs] == ["n.ipynb"]


def test_folder_follows_symlinked_folder_once(tmp_path: Path) -> None:
    write(tmp_path / "real" / "n.ipynb", notebook_bytes())
    (tmp_path / "src").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "src" / "linked")

    inputs = list(iter_inputs(tmp_path / "src"))

    assert [os.path.relpath(str(item.path), tmp_path) for item in inputs] == [os.path.join("src", "linked", "n.ipynb")]


def test_broken_symlink_is_missing_file(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.ipynb", tmp_path / "dangling.ipynb")

    inputs = list(iter_inputs(tmp_path))

    assert len(inputs) == 1
    assert read_reason(inputs[0]) == reasons.MISSING_FILE


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.ipynb", notebook_bytes())
    path.chmod(0)

    try:
        (input_file,) = iter_inputs(tmp_path)
        assert read_reason(input_file) == reasons.UNREADABLE
    finally:
        path.chmod(0o644)


def test_fifo_named_ipynb_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.ipynb")

    (input_file,) = iter_inputs(tmp_path)

    assert read_reason(input_file) == reasons.UNREADABLE


def test_single_file_source(tmp_path: Path) -> None:
    path = write(tmp_path / "one.ipynb", notebook_bytes())

    (input_file,) = iter_inputs(path)

    assert input_file.source_kind == "file"
    assert input_file.path == str(path)
    assert read_input(input_file, LIMITS) == notebook_bytes()


def test_file_too_large_is_not_read(tmp_path: Path) -> None:
    path = write(tmp_path / "big.ipynb", notebook_bytes("x = 1\n" * 100))

    (input_file,) = iter_inputs(path)

    assert read_reason(input_file, Limits(max_file_bytes=100)) == reasons.TOO_LARGE


def test_file_id_stable_and_distinct(tmp_path: Path) -> None:
    write(tmp_path / "a.ipynb", notebook_bytes())
    write(tmp_path / "b.ipynb", notebook_bytes())

    first = [item.file_id for item in iter_inputs(tmp_path)]
    again = [item.file_id for item in iter_inputs(str(tmp_path) + "/")]

    assert first == again
    assert len(set(first)) == 2


def test_missing_and_unsupported_sources(tmp_path: Path) -> None:
    with pytest.raises(NbcensusError, match="source not found"):
        list(iter_inputs(tmp_path / "nope"))
    with pytest.raises(NbcensusError, match="unsupported source"):
        list(iter_inputs(write(tmp_path / "notes.txt", b"x")))


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_members_read_in_place(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "nbs.zip",
        {
            "   lead space/a, b.ipynb": notebook_bytes("import a"),
            "x/.ipynb_checkpoints/a-checkpoint.ipynb": notebook_bytes(),
            "__MACOSX/._a.ipynb": b"\x00\x05\x16\x07",
            "readme.md": b"# hi",
            "x/b.ipynb": notebook_bytes("import b"),
        },
    )
    before = set(os.listdir(tmp_path))

    inputs = list(iter_inputs(archive))

    assert [item.member for item in inputs] == ["   lead space/a, b.ipynb", "x/b.ipynb"]
    assert {item.source_kind for item in inputs} == {"zip"}
    assert all(item.archive == str(archive) for item in inputs)
    assert read_input(inputs[0], LIMITS) == notebook_bytes("import a")
    assert read_input(inputs[1], LIMITS) == notebook_bytes("import b")
    assert set(os.listdir(tmp_path)) == before


def test_zip_unsafe_member_names_are_skipped_unread(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "evil.zip",
        {"../../escape.ipynb": notebook_bytes(), "/etc/abs.ipynb": notebook_bytes(), "ok.ipynb": notebook_bytes()},
    )

    inputs = list(iter_inputs(archive))

    by_member = {item.member: item for item in inputs}
    assert set(by_member) == {"../../escape.ipynb", "/etc/abs.ipynb", "ok.ipynb"}
    assert read_reason(by_member["../../escape.ipynb"]) == reasons.UNSAFE_MEMBER_PATH
    assert read_reason(by_member["/etc/abs.ipynb"]) == reasons.UNSAFE_MEMBER_PATH
    assert read_input(by_member["ok.ipynb"], LIMITS) == notebook_bytes()
    assert not (tmp_path.parent / "escape.ipynb").exists()


def test_zip_bomb_declared_size_over_limit(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", {"bomb.ipynb": b"{" + b" " * 5_000_000 + b"}"})

    (input_file,) = iter_inputs(archive)

    assert read_reason(input_file, Limits(max_file_bytes=1_000_000)) == reasons.TOO_LARGE


def test_zip_member_lying_about_its_size(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "liar.zip", {"liar.ipynb": b" " * 2_000_000})
    # Rewrite the declared sizes in the central directory and local header to 10 bytes.
    data = bytearray(archive.read_bytes())
    real = (2_000_000).to_bytes(4, "little")
    fake = (10).to_bytes(4, "little")
    assert data.count(real) == 2
    archive.write_bytes(bytes(data).replace(real, fake))

    (input_file,) = iter_inputs(archive)
    reason = read_reason(input_file, Limits(max_file_bytes=1_000_000))

    assert reason in (reasons.TOO_LARGE, reasons.UNREADABLE)


def test_corrupt_zip_is_one_unreadable_input(tmp_path: Path) -> None:
    archive = write(tmp_path / "broken.zip", b"PK\x03\x04 this is not a zip archive")

    (input_file,) = iter_inputs(archive)

    assert read_reason(input_file) == reasons.UNREADABLE


@pytest.mark.parametrize("suffix, mode", [(".tar", "w"), (".tar.gz", "w:gz"), (".tgz", "w:gz"), (".tar.xz", "w:xz")])
def test_tar_members_read_in_place(tmp_path: Path, suffix: str, mode: str) -> None:
    archive = tmp_path / f"nbs{suffix}"
    with tarfile.open(archive, mode) as tar:
        for name, data in [("a/one.ipynb", notebook_bytes("import one")), ("b/two.ipynb", notebook_bytes("import two"))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("c/link.ipynb")
        link.type = tarfile.SYMTYPE
        link.linkname = "../a/one.ipynb"
        tar.addfile(link)

    inputs = list(iter_inputs(archive))

    assert [item.member for item in inputs] == ["a/one.ipynb", "b/two.ipynb"]
    assert {item.source_kind for item in inputs} == {"tar"}
    assert read_input(inputs[1], LIMITS) == notebook_bytes("import two")
    assert read_input(inputs[0], LIMITS) == notebook_bytes("import one")


def write_manifest(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_manifest_paths_members_and_metadata(tmp_path: Path) -> None:
    write(tmp_path / "nb" / "with, comma.ipynb", notebook_bytes("import x"))
    make_zip(tmp_path / "arch" / "repo.zip", {"  spaced/m.ipynb": notebook_bytes("import m")})
    manifest = write_manifest(
        tmp_path / "manifest.csv",
        ["notebook_path", "archive", "member", "repo", "html_url", "first_commit_at", "stars", "last_commit_at"],
        [
            ["nb/with, comma.ipynb", "", "", "o/r", "https://example.org/x", "2019-01-02T03:04:05Z", "7", "not a date"],
            ["", "arch/repo.zip", "  spaced/m.ipynb", "o/z", "", "", "", "2020-05-01"],
        ],
    )

    first, second = iter_inputs(manifest)

    assert first.source_kind == second.source_kind == "manifest"
    assert first.path == str(tmp_path / "nb" / "with, comma.ipynb")
    assert first.repo == "o/r"
    assert first.html_url == "https://example.org/x"
    assert first.first_commit_at == datetime(2019, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert first.last_commit_at is None
    assert first.date_origin == "manifest"
    assert first.metadata == {"stars": "7", "last_commit_at": "not a date"}
    assert read_input(first, LIMITS) == notebook_bytes("import x")

    assert second.archive == str(tmp_path / "arch" / "repo.zip")
    assert second.member == "  spaced/m.ipynb"
    assert second.html_url is None
    assert second.last_commit_at == datetime(2020, 5, 1, tzinfo=UTC)
    assert read_input(second, LIMITS) == notebook_bytes("import m")


def test_manifest_missing_file_member_and_archive(tmp_path: Path) -> None:
    make_zip(tmp_path / "repo.zip", {"present.ipynb": notebook_bytes()})
    manifest = write_manifest(
        tmp_path / "manifest.csv",
        ["notebook_path", "archive", "member"],
        [
            ["gone.ipynb", "", ""],
            ["", "repo.zip", "absent.ipynb"],
            ["", "no-such.zip", "present.ipynb"],
            ["", "", ""],
            ["", "repo.zip", "present.ipynb"],
        ],
    )

    inputs = list(iter_inputs(manifest))

    assert [read_reason(item) for item in inputs[:4]] == [
        reasons.MISSING_FILE,
        reasons.MISSING_MEMBER,
        reasons.MISSING_FILE,
        reasons.MISSING_LOCATION,
    ]
    assert read_input(inputs[4], LIMITS) == notebook_bytes()
    assert len({item.file_id for item in inputs}) == 5


def test_manifest_repeated_row_keeps_its_own_file_id(tmp_path: Path) -> None:
    write(tmp_path / "a.ipynb", notebook_bytes())
    manifest = write_manifest(tmp_path / "m.csv", ["notebook_path"], [["a.ipynb"], ["a.ipynb"]])

    first, second = iter_inputs(manifest)

    assert first.path == second.path
    assert first.file_id != second.file_id


def test_manifest_without_location_columns(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "m.csv", ["repo", "path"], [["o/r", "a.ipynb"]])

    (input_file,) = iter_inputs(manifest)

    assert read_reason(input_file) == reasons.INVALID_MANIFEST


def test_empty_manifest(tmp_path: Path) -> None:
    (input_file,) = iter_inputs(write(tmp_path / "m.csv", b""))

    assert read_reason(input_file) == reasons.INVALID_MANIFEST


def test_manifest_in_latin1_and_utf16(tmp_path: Path) -> None:
    write(tmp_path / "café.ipynb", notebook_bytes())
    for encoding in ("latin-1", "utf-16"):
        manifest = write_manifest(tmp_path / f"m-{encoding}.csv", ["notebook_path", "owner"], [["café.ipynb", "Zoë"]], encoding)

        (input_file,) = iter_inputs(manifest)

        assert input_file.metadata == {"owner": "Zoë"}
        assert read_input(input_file, LIMITS) == notebook_bytes()


def test_manifest_with_byte_order_mark(tmp_path: Path) -> None:
    write(tmp_path / "a.ipynb", notebook_bytes())
    manifest = write_manifest(tmp_path / "m.csv", ["notebook_path"], [["a.ipynb"]], "utf-8-sig")

    (input_file,) = iter_inputs(manifest)

    assert read_input(input_file, LIMITS) == notebook_bytes()


def test_manifest_short_and_long_rows(tmp_path: Path) -> None:
    write(tmp_path / "a.ipynb", notebook_bytes())
    write(tmp_path / "m.csv", b"notebook_path,repo,extra\na.ipynb\na.ipynb,o/r,1,surplus\n")

    short, long = iter_inputs(tmp_path / "m.csv")

    assert short.metadata == {}
    assert short.repo is None
    assert long.metadata == {"extra": "1", "_extra_values": ["surplus"]}


def test_manifest_unsafe_member_is_skipped(tmp_path: Path) -> None:
    make_zip(tmp_path / "r.zip", {"../x.ipynb": notebook_bytes()})
    manifest = write_manifest(tmp_path / "m.csv", ["archive", "member"], [["r.zip", "../x.ipynb"]])

    (input_file,) = iter_inputs(manifest)

    assert read_reason(input_file) == reasons.UNSAFE_MEMBER_PATH


def test_examples_manifest_rows_all_listed(repo_root: Path) -> None:
    manifest = repo_root / "examples" / "manifest.csv"
    with open(manifest, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    inputs = list(iter_inputs(manifest))

    assert len(inputs) == len(rows)
    assert [item.member or os.path.relpath(str(item.path), manifest.parent) for item in inputs] == [
        row["member"] or row["notebook_path"] for row in rows
    ]
