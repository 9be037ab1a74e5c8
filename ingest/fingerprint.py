"""Fingerprints of input files, so that a re-run skips the files that have not changed.

The driver computes a fingerprint for every listed file before any file is
read, and without reading a file's bytes. It is the SHA-256 of:
- the file's stamp, which identifies its bytes without reading them:
  - a zip entry: name, CRC-32, compressed and uncompressed sizes and flags,
    from the central directory;
  - a tar entry: name, size and mtime, from its header;
  - a file on disk: size, mtime_ns, ctime_ns and inode, from `os.stat`;
  - a git blob: its object id;
- every other value that feeds the file's raw.notebooks and raw.outcomes rows:
  file_id, source_kind, path, archive, member, repo, html_url, the three dates,
  date_origin and the metadata (the other manifest columns, or the git head
  commit, so a new commit makes the repository's notebooks be read again);
- the limit options `--max-file-mb`, `--max-cells`, `--max-cell-chars` and
  `--max-nesting`;
- FORMAT_VERSION, the nbcensus version and the names and types of the
  raw.notebooks and raw.outcomes columns, so that a newer nbcensus reads every
  file again.
The per-file timeout is left out because a `timed_out` outcome is never reused.

The fingerprint is stored in raw.outcomes.fingerprint, but only for outcomes
that follow from the bytes and the limits (`ingest.reasons.REUSABLE_REASONS`
and plain successes). Everything else, such as `timed_out`, `worker_crashed`,
`internal_error`, `unreadable` or `missing_file`, is stored with null, and null
never matches. A file without a stamp (from a plugin source kind that sets
none, a file that cannot be stat'ed, an archive entry not found, a listing
error) gets no fingerprint and is processed by every run.

The next run copies the stored raw.notebooks and raw.outcomes rows of each file
whose listed fingerprint equals the stored one into staging
(`Warehouse.reuse_unchanged`) and sends only the other files to workers.
`--reparse` reuses nothing. Reused rows keep their `ingested_at`, which is
therefore the time of the run that last processed the file, not of the last
run that listed it. A re-run with nothing changed leaves the tables identical,
apart from `ingested_at` in the rows of files without a fingerprint.

NOTE: a file rewritten with the same size within one tick of the file
system's timestamps (one second for a tar header's mtime) keeps its stamp,
and so do zip entries whose new bytes have the same CRC-32 and sizes. Such a
file keeps its old rows until it changes again or `--reparse` is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import replace

from ingest import __version__
from ingest.archives import entry_stamps
from ingest.inputfile import InputFile
from ingest.limits import Limits
from ingest.schema import NOTEBOOKS, OUTCOMES

# Raise this when a change to reading, decoding or the file-row columns gives
# different raw.notebooks or raw.outcomes rows for the same file and options.
FORMAT_VERSION = 1

READER_PATH = "path"
READER_ARCHIVE = "archive"


class Fingerprinter:
    """The fingerprint function of one run, which lists each archive named by a manifest once."""

    def __init__(self, limits: Limits) -> None:
        columns = [f"{column.name}:{column.type}" for schema in (NOTEBOOKS, OUTCOMES) for column in schema]
        self.run_part = [
            FORMAT_VERSION,
            __version__,
            columns,
            [limits.max_file_bytes, limits.max_cells, limits.max_cell_chars, limits.max_nesting],
        ]
        self.archives: dict[str, dict[str, str] | None] = {}

    def with_fingerprint(self, input_file: InputFile) -> InputFile:
        """Return the input file with its fingerprint set, or unchanged when it has none."""
        fingerprint = self.fingerprint(input_file)
        if fingerprint is None:
            return input_file
        return replace(input_file, fingerprint=fingerprint)

    def fingerprint(self, input_file: InputFile) -> str | None:
        """Return the fingerprint of an input file, or None when its bytes cannot be identified without reading them."""
        if input_file.error is not None:
            return None
        stamp = input_file.stamp or self._stamp(input_file)
        if stamp is None:
            return None

        file_part = [
            input_file.file_id,
            input_file.source_kind,
            input_file.path,
            input_file.archive,
            input_file.member,
            input_file.repo,
            input_file.html_url,
            input_file.first_commit_at,
            input_file.last_commit_at,
            input_file.repo_last_commit_at,
            input_file.date_origin,
            input_file.metadata,
            stamp,
        ]
        # default=str turns datetimes and any other metadata value into text;
        # ensure_ascii keeps surrogates from undecodable file names encodable.
        text = json.dumps([self.run_part, file_part], default=str, ensure_ascii=True)
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def _stamp(self, input_file: InputFile) -> str | None:
        """Return the stamp of a file on disk, or of an archive entry named by a manifest."""
        if input_file.reader == READER_PATH and input_file.path is not None:
            return path_stamp(input_file.path)
        if input_file.reader == READER_ARCHIVE and input_file.archive is not None and input_file.member is not None:
            if input_file.archive not in self.archives:
                self.archives[input_file.archive] = entry_stamps(input_file.archive)
            stamps = self.archives[input_file.archive]
            return None if stamps is None else stamps.get(input_file.member)
        return None


def path_stamp(path: str) -> str | None:
    """Return size, mtime_ns, ctime_ns and inode of a regular file, or None when it is missing or not a regular file."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return repr(("file", status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino))
