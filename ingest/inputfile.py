"""The record of one input file: where a notebook is, and what the listing found out about it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

NOTEBOOK_SUFFIX = ".ipynb"
CHECKPOINTS_DIR = ".ipynb_checkpoints"


def is_notebook_name(name: str) -> bool:
    return name.lower().endswith(NOTEBOOK_SUFFIX)


@dataclass(frozen=True, slots=True)
class InputFile:
    """One notebook file named by a source: where it is and what is known about it."""

    source: str  # the SOURCE argument, as an absolute path
    source_kind: str  # folder / file / zip / tar / manifest, or a registered kind
    reader: str  # name of the registered reader that returns the bytes
    path: str | None  # the file on disk, or the archive or repository holding it
    archive: str | None = None
    member: str | None = None  # the entry inside the archive or repository
    ref: str | None = None  # reader-specific locator, e.g. a tar header offset or a git blob id
    repo: str | None = None
    html_url: str | None = None
    first_commit_at: datetime | None = None
    last_commit_at: datetime | None = None
    repo_last_commit_at: datetime | None = None
    date_origin: str = "none"  # manifest / git / none
    metadata: dict[str, object] | None = field(default=None, hash=False)
    # Set when the listing already found that the file cannot be read: (reason, detail).
    error: tuple[str, str] | None = None
    # Counts repeats of the same location within one source (a manifest may
    # list a file twice), so that every listed row keeps its own file_id.
    occurrence: int = 1
    # What the listing saw of the bytes without reading them, such as a zip
    # entry's CRC-32 and sizes (see `ingest.fingerprint`); None when not known.
    stamp: str | None = None
    # Set by the driver before the file is processed (see `ingest.fingerprint`).
    fingerprint: str | None = None

    @property
    def file_id(self) -> str:
        """SHA-256 of the source, the reader and the location, stable across runs.

        The source is part of it because two sources may list the same file
        (two manifests naming one notebook), and each listing has its own row.
        """
        parts = [self.source, self.reader, self.path or "", self.member or "", self.ref or ""]
        if self.occurrence > 1:
            parts.append(str(self.occurrence))
        key = "\0".join(parts).encode("utf-8", "surrogatepass")
        return hashlib.sha256(key).hexdigest()

    @property
    def display_name(self) -> str:
        if self.member is not None:
            return f"{self.path}!{self.member}"
        return self.path or self.source
