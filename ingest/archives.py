"""List and read notebooks inside zip and tar archives, in memory, without extracting.

Entries are read into memory and never written to disk, so an entry named
`../x` or `/etc/x` cannot escape anywhere. Such names are still reported as
skipped (`unsafe_member_path`), because they point at a crafted archive.

Zip bombs: an entry whose declared size is over the file-size limit is skipped
without decompressing it, and every read is capped at the limit plus one byte,
so an entry that lies about its size costs at most that much memory.

Workers keep a few archives open (`_ArchiveCache`), so reading thousands of
entries of one archive opens it once per worker process.
"""

from __future__ import annotations

import logging
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ingest import reasons
from ingest.errors import NotebookError
from ingest.limits import Limits
from ingest.inputfile import CHECKPOINTS_DIR, InputFile, is_notebook_name

log = logging.getLogger(__name__)

# Resource-fork copies that macOS adds to zip files (`__MACOSX/._name.ipynb`);
# they are not notebooks.
MACOS_METADATA_DIR = "__MACOSX"

MAX_OPEN_ARCHIVES = 8

# What zlib and lzma raise on a corrupt compressed stream; zipfile and tarfile
# let these through instead of wrapping them in their own errors.
DECOMPRESSION_ERRORS = (zlib.error, lzma.LZMAError)


def unsafe_member_reason(name: str) -> str | None:
    """Return why an archive entry name is unsafe, or None when it is a plain relative path."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/"):
        return "absolute path"
    if len(normalised) >= 2 and normalised[1] == ":":
        return "path with a drive letter"
    if ".." in PurePosixPath(normalised).parts:
        return "path with a `..` component"
    if "\0" in name:
        return "path with a NUL character"
    return None


def is_listed_member(name: str) -> bool:
    """Whether an archive entry name is a notebook that the ingest should list."""
    if not is_notebook_name(name):
        return False
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return CHECKPOINTS_DIR not in parts and MACOS_METADATA_DIR not in parts


def member_input(
    source: str,
    source_kind: str,
    archive: str,
    member: str,
    ref: str | None = None,
    **known: object,
) -> InputFile:
    """Build the InputFile of one archive entry, marked skipped when its name is unsafe."""
    unsafe = unsafe_member_reason(member)
    error = None
    if unsafe is not None:
        error = (reasons.UNSAFE_MEMBER_PATH, f"archive entry {member!r} has an unsafe name ({unsafe}); not read")
    return InputFile(
        source=source,
        source_kind=source_kind,
        reader="archive",
        path=archive,
        archive=archive,
        member=member,
        ref=ref,
        error=error,
        **known,  # type: ignore[arg-type]
    )


def list_zip(source: str, path: Path) -> Iterator[InputFile]:
    """Yield the notebook entries of a zip archive given as a SOURCE."""
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        yield _unreadable_archive(source, "zip", error)
        return

    # A name that repeats is listed once: reading it returns the last entry of
    # that name, as ZipFile.getinfo and unzip tools do, so its stamp is that entry's.
    last_entries = {info.filename: info for info in infos if not info.is_dir() and is_listed_member(info.filename)}
    for name, info in last_entries.items():
        yield member_input(source, "zip", source, name, stamp=zip_entry_stamp(info))


def list_tar(source: str, path: Path) -> Iterator[InputFile]:
    """Yield the notebook entries of a tar archive given as a SOURCE.

    Only regular-file entries are listed; symbolic and hard links are skipped,
    as checked-out repositories skip symlinked notebooks.
    """
    try:
        with tarfile.open(source, "r:*") as archive:
            members = [info for info in archive if info.isreg() and is_listed_member(info.name)]
    except (OSError, tarfile.TarError, EOFError, ValueError, *DECOMPRESSION_ERRORS) as error:
        yield _unreadable_archive(source, "tar", error)
        return

    for info in members:
        yield member_input(source, "tar", source, info.name, ref=str(info.offset), stamp=tar_entry_stamp(info))


def _unreadable_archive(source: str, kind: str, error: Exception) -> InputFile:
    log.warning("cannot read archive %s: %s", source, error)
    return InputFile(
        source=source,
        source_kind=kind,
        reader="archive",
        path=source,
        archive=source,
        error=(reasons.UNREADABLE, f"cannot read {kind} archive {source}: {error}"),
    )


def zip_entry_stamp(info: zipfile.ZipInfo) -> str:
    """Return the central directory's record of an entry's bytes: name, CRC-32, sizes and flags."""
    return repr(("zip", info.filename, info.CRC, info.compress_size, info.file_size, info.flag_bits))


def tar_entry_stamp(info: tarfile.TarInfo) -> str:
    """Return what a tar header says about an entry's bytes: name, size and mtime (whole seconds)."""
    return repr(("tar", info.name, info.size, info.mtime))


def entry_stamps(path: str) -> dict[str, str] | None:
    """Return the stamp of every regular-file entry of an archive, by name, or None when it cannot be listed.

    A name that repeats gets the stamp of its last entry, the one `read_member`
    reads. This runs in the driver for manifests that name archive entries;
    for a compressed tar it decompresses the whole archive to reach the headers.
    """
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(status.st_mode):
        return None

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return {info.filename: zip_entry_stamp(info) for info in archive.infolist() if not info.is_dir()}
        with tarfile.open(path, "r:*") as archive:
            return {info.name: tar_entry_stamp(info) for info in archive if info.isreg()}
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError, *DECOMPRESSION_ERRORS) as error:
        log.debug("cannot list archive %s for fingerprints: %s", path, error)
        return None


class _OpenArchive:
    """An archive opened for reading, with its entries indexed by name."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self.tar: tarfile.TarFile | None = None
        self.zip_infos: dict[str, zipfile.ZipInfo] = {}
        self.tar_by_name: dict[str, tarfile.TarInfo] = {}
        self.tar_by_offset: dict[int, tarfile.TarInfo] = {}

        if zipfile.is_zipfile(path):
            self.zip = zipfile.ZipFile(path)
            # A later entry with the same name wins, as in ZipFile.getinfo.
            self.zip_infos = {info.filename: info for info in self.zip.infolist()}
        else:
            self.tar = tarfile.open(path, "r:*")
            for info in self.tar:
                self.tar_by_name[info.name] = info
                self.tar_by_offset[info.offset] = info

    def read(self, member: str, ref: str | None, limits: Limits) -> bytes:
        if self.zip is not None:
            return self._read_zip(member, limits)
        return self._read_tar(member, ref, limits)

    def _read_zip(self, member: str, limits: Limits) -> bytes:
        assert self.zip is not None
        info = self.zip_infos.get(member)
        if info is None or info.is_dir():
            raise NotebookError(reasons.MISSING_MEMBER, f"no entry {member!r} in {self.path}")
        if info.file_size > limits.max_file_bytes:
            raise NotebookError(reasons.TOO_LARGE, _too_large(info.file_size, limits))
        try:
            with self.zip.open(info) as handle:
                data = handle.read(limits.max_file_bytes + 1)
        except (
            zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, ValueError, *DECOMPRESSION_ERRORS
        ) as error:
            # RuntimeError: encrypted entry; NotImplementedError: unsupported compression.
            raise NotebookError(reasons.UNREADABLE, f"cannot read entry {member!r} of {self.path}: {error}") from None
        return _check_read_size(data, info.file_size, limits)

    def _read_tar(self, member: str, ref: str | None, limits: Limits) -> bytes:
        assert self.tar is not None
        info = self.tar_by_offset.get(int(ref)) if ref and ref.isdigit() else None
        if info is None or info.name != member:
            info = self.tar_by_name.get(member)
        if info is None or not info.isreg():
            raise NotebookError(reasons.MISSING_MEMBER, f"no regular-file entry {member!r} in {self.path}")
        if info.size > limits.max_file_bytes:
            raise NotebookError(reasons.TOO_LARGE, _too_large(info.size, limits))
        try:
            handle = self.tar.extractfile(info)
            if handle is None:
                raise NotebookError(reasons.UNREADABLE, f"entry {member!r} of {self.path} has no data")
            with handle:
                data = handle.read(limits.max_file_bytes + 1)
        except (tarfile.TarError, OSError, EOFError, ValueError, *DECOMPRESSION_ERRORS) as error:
            raise NotebookError(reasons.UNREADABLE, f"cannot read entry {member!r} of {self.path}: {error}") from None
        return _check_read_size(data, info.size, limits)

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()
        if self.tar is not None:
            self.tar.close()


def _too_large(size: int, limits: Limits) -> str:
    return f"entry is {size:,} bytes, over the limit of {limits.max_file_bytes:,}"


def _check_read_size(data: bytes, declared: int, limits: Limits) -> bytes:
    if len(data) > limits.max_file_bytes:
        raise NotebookError(
            reasons.TOO_LARGE,
            f"entry declares {declared:,} bytes but holds more than the limit of {limits.max_file_bytes:,}",
        )
    return data


class _ArchiveCache:
    """The archives a process has open, least recently used closed first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.open: OrderedDict[str, _OpenArchive] = OrderedDict()
        # Archives that could not be opened, so that their other entries fail fast.
        self.failures: dict[str, NotebookError] = {}

    def get(self, path: str) -> _OpenArchive:
        archive = self.open.get(path)
        if archive is not None:
            self.open.move_to_end(path)
            return archive
        failure = self.failures.get(path)
        if failure is not None:
            raise NotebookError(failure.reason, failure.detail)

        try:
            archive = _open_archive(path)
        except NotebookError as error:
            self.failures[path] = error
            raise
        self.open[path] = archive
        while len(self.open) > self.capacity:
            _, oldest = self.open.popitem(last=False)
            oldest.close()
        return archive

    def clear(self) -> None:
        self.failures.clear()
        while self.open:
            _, archive = self.open.popitem()
            archive.close()


def _open_archive(path: str) -> _OpenArchive:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise NotebookError(reasons.MISSING_FILE, f"archive not found: {path}") from None
    except ValueError:
        raise NotebookError(reasons.MISSING_FILE, f"invalid archive path {path!r}: it contains a NUL character") from None
    except OSError as error:
        raise NotebookError(reasons.UNREADABLE, f"cannot read archive {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(status.st_mode):
        raise NotebookError(reasons.UNREADABLE, f"archive is not a regular file: {path}")

    try:
        return _OpenArchive(path)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, ValueError, *DECOMPRESSION_ERRORS) as error:
        raise NotebookError(reasons.UNREADABLE, f"cannot open archive {path}: {error}") from None


# One cache per process: a forked worker starts from the parent's state, which
# has no open archives because the driver only lists them.
_cache = _ArchiveCache(MAX_OPEN_ARCHIVES)


def read_member(input_file: InputFile, limits: Limits) -> bytes:
    """Read one archive entry, opening the archive through the per-process cache."""
    if input_file.archive is None or input_file.member is None:
        raise NotebookError(reasons.MISSING_LOCATION, "archive input without an archive path or entry name")
    archive = _cache.get(input_file.archive)
    return archive.read(input_file.member, input_file.ref, limits)


def close_archives() -> None:
    _cache.clear()
