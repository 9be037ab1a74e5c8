"""Turn SOURCE arguments into input files, and read an input file's bytes.

A SOURCE is a folder, a single `.ipynb`, a `.zip` or `.tar[.gz|.bz2|.xz]`
archive, or a manifest CSV (see `ingest.manifest`). Listing a source yields one
`InputFile` per notebook it names; listing is cheap and happens in the driver
process. Reading the bytes happens later, in a worker process, through the
reader named by `InputFile.reader`, so that only small location records cross
process boundaries.

An input that the listing already found unreadable (an archive entry with
an unsafe name, a manifest row with no location, a folder that cannot be
listed) is still yielded, with `error` set, so that it gets an outcome row and
the counts add up.

Extension point: another kind of source plugs in with two calls, made when its
module is imported.
- `register_source_kind(SourceKind(name, matches, list_inputs), first=True)`:
  `matches(path)` says whether a SOURCE argument is of this kind, and
  `list_inputs(source, path)` yields its `InputFile`s. Kinds are tried in order,
  so `first=True` lets a git repository be recognised before a plain folder.
  A kind made with `nested=True` is also tried on every subfolder of a folder
  walk, so a folder of git repositories reads each one as a repository.
- `register_reader(name, read)`: `read(input_file, limits) -> bytes` reads the
  bytes of an `InputFile` whose `reader` is `name`, raising `NotebookError` with
  a reason from `ingest.reasons`. It runs in worker processes, so it may cache
  open handles per process (see `ingest.archives`).
A lister may set `InputFile.stamp` to a string that changes whenever the bytes
do (a blob id, a checksum), so that re-runs skip the file while it is
unchanged (see `ingest.fingerprint`). Files of a reader without stamps are
read by every run.
`InputFile` lives in `ingest.inputfile` and is re-exported here. The module
names in `PLUGIN_MODULES` are imported by `load_plugins()`, which the
ingest calls in the driver and in every worker before listing or reading.
"""

from __future__ import annotations

import importlib
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest import archives, manifest, reasons
from ingest.errors import NbcensusError, NotebookError
from ingest.inputfile import CHECKPOINTS_DIR, NOTEBOOK_SUFFIX, InputFile, is_notebook_name
from ingest.limits import Limits

log = logging.getLogger(__name__)

MANIFEST_SUFFIX = ".csv"
ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

# Folders never searched for notebooks: version-control internals hold no
# checked-out notebooks, and checkpoints are Jupyter's autosave copies.
SKIPPED_DIRS = frozenset({CHECKPOINTS_DIR, ".git", ".hg", ".svn"})

# Modules that register further source kinds and readers when imported.
PLUGIN_MODULES = ("ingest.gitsource",)


@dataclass(frozen=True, slots=True)
class SourceKind:
    """A kind of SOURCE argument: how to recognise it and how to list its files."""

    name: str
    matches: Callable[[Path], bool]
    list_inputs: Callable[[str, Path], Iterator[InputFile]]
    # A folder walk that meets a subfolder matching a nested kind lists it with
    # that kind instead of descending into it (a git repository in a folder).
    nested: bool = False


Reader = Callable[[InputFile, Limits], bytes]

_SOURCE_KINDS: list[SourceKind] = []
_READERS: dict[str, Reader] = {}
_plugins_loaded = False


def register_source_kind(kind: SourceKind, first: bool = False) -> None:
    """Add a source kind; `first=True` makes it win over the built-in kinds."""
    existing = [registered for registered in _SOURCE_KINDS if registered.name != kind.name]
    _SOURCE_KINDS[:] = [kind, *existing] if first else [*existing, kind]


def register_reader(name: str, read: Reader) -> None:
    _READERS[name] = read


def load_plugins() -> None:
    """Import the modules that register more source kinds; missing ones are skipped."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True

    for module_name in PLUGIN_MODULES:
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            log.debug("source plugin %s is not installed", module_name)


def source_kind_of(path: Path) -> SourceKind:
    """Return the kind of a SOURCE argument, or raise a user-facing error."""
    load_plugins()
    if not os.path.lexists(path):
        raise NbcensusError(f"source not found: {path}")
    for kind in _SOURCE_KINDS:
        if kind.matches(path):
            return kind
    raise NbcensusError(
        f"unsupported source: {path} (expected a folder, a .ipynb file, a .zip or .tar archive, or a .csv manifest)"
    )


def normalise_source(argument: str | os.PathLike[str]) -> str:
    """Return the absolute form of a SOURCE argument, without resolving symlinks."""
    return os.path.abspath(os.fspath(argument))


def iter_inputs(argument: str | os.PathLike[str]) -> Iterator[InputFile]:
    """Yield every input file of one SOURCE argument, in a deterministic order."""
    source = normalise_source(argument)
    path = Path(source)
    kind = source_kind_of(path)
    yield from kind.list_inputs(source, path)


def read_input(input_file: InputFile, limits: Limits) -> bytes:
    """Return the bytes of an input file; raise `NotebookError` when it cannot be read."""
    if input_file.error is not None:
        reason, detail = input_file.error
        raise NotebookError(reason, detail)

    reader = _READERS.get(input_file.reader)
    if reader is None:
        load_plugins()
        reader = _READERS.get(input_file.reader)
    if reader is None:
        raise NotebookError(reasons.INTERNAL_ERROR, f"no reader registered for {input_file.reader!r} inputs")
    return reader(input_file, limits)


# --- files on disk -----------------------------------------------------------


def read_path(input_file: InputFile, limits: Limits) -> bytes:
    """Read a regular file, checking its size before reading and capping the read."""
    path = input_file.path or ""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise NotebookError(reasons.MISSING_FILE, f"file not found: {path}") from None
    except ValueError:
        raise NotebookError(reasons.MISSING_FILE, f"invalid file path {path!r}: it contains a NUL character") from None
    except OSError as error:
        raise NotebookError(reasons.UNREADABLE, f"cannot read {path}: {error.strerror or error}") from None

    if not stat.S_ISREG(status.st_mode):
        # Reading a FIFO or a device could block or never end.
        raise NotebookError(reasons.UNREADABLE, f"not a regular file: {path}")
    if status.st_size > limits.max_file_bytes:
        raise NotebookError(reasons.TOO_LARGE, _too_large_detail(status.st_size, limits))

    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_file_bytes + 1)
    except OSError as error:
        raise NotebookError(reasons.UNREADABLE, f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > limits.max_file_bytes:
        raise NotebookError(reasons.TOO_LARGE, f"file grew over the limit of {limits.max_file_bytes:,} bytes while read")
    return data


def _too_large_detail(size: int, limits: Limits) -> str:
    return f"file is {size:,} bytes, over the limit of {limits.max_file_bytes:,}"


def _list_file(source: str, path: Path) -> Iterator[InputFile]:
    yield InputFile(source=source, source_kind="file", reader="path", path=source)


def _list_folder(source: str, path: Path) -> Iterator[InputFile]:
    """Walk a folder for notebooks, following symlinked folders once each."""
    visited: set[tuple[int, int]] = set()
    unreadable: list[OSError] = []

    for directory, subdirectories, filenames in os.walk(source, followlinks=True, onerror=unreadable.append):
        while unreadable:
            error = unreadable.pop()
            yield _unreadable_folder(source, error)

        # A symlink pointing back up the tree would make the walk endless, so
        # every real directory is entered only once.
        try:
            directory_status = os.stat(directory)
        except OSError as error:
            yield _unreadable_folder(source, error)
            subdirectories[:] = []
            continue
        identity = (directory_status.st_dev, directory_status.st_ino)
        if identity in visited:
            log.debug("skipping %s: already visited through another link", directory)
            subdirectories[:] = []
            continue
        visited.add(identity)

        subdirectories[:] = sorted(name for name in subdirectories if name not in SKIPPED_DIRS)
        for name in list(subdirectories):
            subfolder = Path(directory, name)
            nested = next((kind for kind in _SOURCE_KINDS if kind.nested and kind.matches(subfolder)), None)
            if nested is not None:
                subdirectories.remove(name)
                yield from nested.list_inputs(source, subfolder)
        for filename in sorted(filenames):
            if is_notebook_name(filename):
                file_path = os.path.join(directory, filename)
                yield InputFile(source=source, source_kind="folder", reader="path", path=file_path)

    while unreadable:
        yield _unreadable_folder(source, unreadable.pop())


def _unreadable_folder(source: str, error: OSError) -> InputFile:
    folder = error.filename or source
    log.warning("cannot list folder %s: %s", folder, error.strerror or error)
    return InputFile(
        source=source,
        source_kind="folder",
        reader="path",
        path=os.fspath(folder),
        error=(reasons.UNREADABLE, f"cannot list folder {folder}: {error.strerror or error}"),
    )


def _is_file_with_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    return path.name.lower().endswith(suffixes) and not path.is_dir()


def _register_builtin_kinds() -> None:
    register_reader("path", read_path)
    register_reader("archive", archives.read_member)

    register_source_kind(SourceKind("folder", lambda path: path.is_dir(), _list_folder))
    register_source_kind(
        SourceKind("file", lambda path: _is_file_with_suffix(path, (NOTEBOOK_SUFFIX,)), _list_file)
    )
    register_source_kind(SourceKind("zip", lambda path: _is_file_with_suffix(path, ZIP_SUFFIXES), archives.list_zip))
    register_source_kind(SourceKind("tar", lambda path: _is_file_with_suffix(path, TAR_SUFFIXES), archives.list_tar))
    register_source_kind(
        SourceKind("manifest", lambda path: _is_file_with_suffix(path, (MANIFEST_SUFFIX,)), manifest.list_manifest)
    )


_register_builtin_kinds()
