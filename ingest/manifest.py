"""Read a manifest CSV whose rows point at notebooks, keeping the other columns as metadata.

A row locates its notebook by `notebook_path` (a file, relative to the
manifest's folder) or by `archive` + `member` (an entry of a zip or tar
archive, the archive relative to the manifest's folder). When a row has both,
`notebook_path` wins. The columns `repo`, `html_url`, `first_commit_at`,
`last_commit_at` and `repo_last_commit_at` fill the matching raw.notebooks
columns; every other column goes, as text, into the JSON `metadata` column.

Values are used exactly as written: paths in real repositories have leading
spaces, commas and quotes, so nothing is stripped except to test for blanks.
The file is decoded as UTF-8 (with or without a byte-order mark), as UTF-16
when it starts with a UTF-16 byte-order mark, and otherwise as Latin-1 with a
warning, since spreadsheet exports of manifests are often in a legacy encoding.
"""

from __future__ import annotations

import codecs
import csv
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ingest import reasons
from ingest.archives import member_input
from ingest.inputfile import InputFile

log = logging.getLogger(__name__)

PATH_COLUMN = "notebook_path"
ARCHIVE_COLUMN = "archive"
MEMBER_COLUMN = "member"
LOCATION_COLUMNS = frozenset({PATH_COLUMN, ARCHIVE_COLUMN, MEMBER_COLUMN})
DATE_COLUMNS = ("first_commit_at", "last_commit_at", "repo_last_commit_at")
NAMED_COLUMNS = frozenset({"repo", "html_url", *DATE_COLUMNS})

# Key under which values beyond the header's columns are kept in the metadata.
EXTRA_VALUES_KEY = "_extra_values"

ENCODING_CHECK_CHUNK = 1024 * 1024


def list_manifest(source: str, path: Path) -> Iterator[InputFile]:
    """Yield one InputFile per data row of a manifest, in file order."""
    try:
        encoding = detect_encoding(path)
        handle = open(path, encoding=encoding, newline="")
    except OSError as error:
        yield _manifest_error(source, reasons.UNREADABLE, f"cannot read manifest {source}: {error.strerror or error}")
        return

    with handle:
        reader = csv.DictReader(handle)
        try:
            columns = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as error:
            yield _manifest_error(source, reasons.INVALID_MANIFEST, f"invalid CSV in manifest {source}: {error}")
            return
        problem = _check_columns(columns)
        if problem is not None:
            yield _manifest_error(source, reasons.INVALID_MANIFEST, f"manifest {source} {problem}")
            return

        folder = os.path.dirname(source)
        occurrences: Counter[tuple[str, str | None, str | None]] = Counter()
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as error:
                # The csv module cannot resynchronise after a malformed line, so
                # the rest of the file is reported as one failed input.
                detail = f"invalid CSV in manifest {source} at line {reader.line_num}: {error}; later rows not read"
                yield _manifest_error(source, reasons.INVALID_MANIFEST, detail, ref=f"line {reader.line_num}")
                return

            input_file = _row_input(source, folder, row, reader.line_num)
            key = (input_file.reader, input_file.path, input_file.member)
            occurrences[key] += 1
            if occurrences[key] > 1:
                input_file = _with_occurrence(input_file, occurrences[key])
            yield input_file


def detect_encoding(path: Path) -> str:
    """Return the codec to read a manifest with (see the module docstring)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"

        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(ENCODING_CHECK_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            log.warning("manifest %s is not valid UTF-8 (%s); reading it as Latin-1", path, error.reason)
            return "latin-1"
    return "utf-8-sig"


def _check_columns(columns: list[str] | None) -> str | None:
    if not columns:
        return "is empty: expected a header row"
    names = set(columns)
    if PATH_COLUMN in names or {ARCHIVE_COLUMN, MEMBER_COLUMN} <= names:
        return None
    found = ", ".join(repr(name) for name in columns[:10])
    return f"has no {PATH_COLUMN!r} column and no {ARCHIVE_COLUMN!r} + {MEMBER_COLUMN!r} columns (found: {found})"


def _row_input(source: str, folder: str, row: dict[str | None, object], line: int) -> InputFile:
    known, metadata = _split_row(row)
    notebook_path = _text(row.get(PATH_COLUMN))
    archive = _text(row.get(ARCHIVE_COLUMN))
    member = _text(row.get(MEMBER_COLUMN))

    if not _is_blank(notebook_path):
        assert notebook_path is not None
        return InputFile(
            source=source,
            source_kind="manifest",
            reader="path",
            path=os.path.normpath(os.path.join(folder, notebook_path)),
            metadata=metadata,
            **known,  # type: ignore[arg-type]
        )

    if not _is_blank(archive) and not _is_blank(member):
        assert archive is not None and member is not None
        archive_path = os.path.normpath(os.path.join(folder, archive))
        return member_input(source, "manifest", archive_path, member, metadata=metadata, **known)

    return InputFile(
        source=source,
        source_kind="manifest",
        reader="path",
        path=source,
        ref=f"line {line}",
        metadata=metadata,
        error=(
            reasons.MISSING_LOCATION,
            f"manifest line {line} has neither {PATH_COLUMN!r} nor {ARCHIVE_COLUMN!r} + {MEMBER_COLUMN!r}",
        ),
        **known,  # type: ignore[arg-type]
    )


def _split_row(row: dict[str | None, object]) -> tuple[dict[str, object], dict[str, object]]:
    """Split a row into the recognised raw.notebooks fields and the metadata object."""
    known: dict[str, object] = {}
    metadata: dict[str, object] = {}

    for column, value in row.items():
        if column is None:
            metadata[EXTRA_VALUES_KEY] = value
        elif column in LOCATION_COLUMNS or value is None:
            continue
        elif column in DATE_COLUMNS:
            timestamp = parse_timestamp(str(value))
            if timestamp is not None:
                known[column] = timestamp
            elif not _is_blank(str(value)):
                log.debug("manifest value %r of %s is not an ISO-8601 date; kept in metadata", value, column)
                metadata[column] = value
        elif column in NAMED_COLUMNS:
            if not _is_blank(str(value)):
                known[column] = value
        else:
            metadata[column] = value

    if any(column in known for column in DATE_COLUMNS):
        known["date_origin"] = "manifest"
    return known, metadata


def parse_timestamp(value: str) -> datetime | None:
    """Parse an ISO-8601 date or timestamp; naive values are taken as UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        timestamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    if timestamp.tzinfo is None:
        return timestamp.replace(tzinfo=UTC)
    return timestamp.astimezone(UTC)


def _manifest_error(source: str, reason: str, detail: str, ref: str | None = None) -> InputFile:
    log.warning("%s", detail)
    return InputFile(
        source=source, source_kind="manifest", reader="path", path=source, ref=ref, error=(reason, detail)
    )


def _with_occurrence(input_file: InputFile, occurrence: int) -> InputFile:
    return replace(input_file, occurrence=occurrence)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _is_blank(value: str | None) -> bool:
    return value is None or not value.strip()
