"""Git repositories as a SOURCE kind: notebooks of one revision, dated from history.

A SOURCE that is the top of a git repository (a folder containing `.git`, or a
bare repository) is read as a repository, not as a folder: its notebooks are the
`*.ipynb` regular files of the chosen revision (`HEAD` unless `--rev` says
otherwise), read from the object store without a checkout, so uncommitted
changes and untracked files in a work tree are not read. A folder inside a work
tree is not the top of a repository, so it is still read as a plain folder,
while a repository inside a plain folder SOURCE (a folder of clones) is read
as a repository.

Each notebook gets `first_commit_at` and `last_commit_at` from its own lineage
and `repo_last_commit_at` from the repository (see `ingest.gitdates`), with
`date_origin` `git`; when the history cannot be used (a shallow clone, ...)
the dates are null, `date_origin` is `none` and the metadata key `date_note`
gives the reason. The repository name comes from the `origin` remote
(`owner/name`), else from the folder name.

Importing this module registers the `git` source kind and reader with
`ingest.sources`.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from ingest import reasons
from ingest.errors import NotebookError
from ingest.gitdates import date_notebooks
from ingest.gitrepo import BlobReader, BlobTooLarge, GitError, GitRepository, github_blob_url, looks_like_repository
from ingest.limits import Limits
from ingest.sources import InputFile, SourceKind, register_reader, register_source_kind

log = logging.getLogger(__name__)

GIT_KIND = "git"
DEFAULT_REV = "HEAD"

MAX_OPEN_REPOSITORIES = 8

_revision = DEFAULT_REV


def use_revision(rev: str | None) -> None:
    """Set the revision read from every git SOURCE of this process (None: HEAD)."""
    global _revision
    _revision = rev or DEFAULT_REV


def current_revision() -> str:
    return _revision


def list_repository(source: str, path: Path, rev: str | None = None) -> Iterator[InputFile]:
    """Yield one InputFile per notebook of the repository at PATH, dated.

    A repository that cannot be read, or that lacks the revision, yields a single
    InputFile with `error` set and no member, so it still ends with an outcome.
    """
    rev = rev or _revision
    try:
        repository = GitRepository.open(path)
    except GitError as error:
        yield _repository_error(source, path, reasons.UNREADABLE_REPOSITORY, str(error))
        return
    try:
        commit = repository.resolve_commit(rev)
    except GitError as error:
        yield _repository_error(source, path, reasons.REVISION_NOT_FOUND, str(error))
        return

    try:
        entries = repository.list_notebooks(commit)
        history = date_notebooks(repository, commit, [entry.path for entry in entries])
        remote_url = repository.remote_url()
        repo_name = repository.repository_name()
    except GitError as error:
        yield _repository_error(source, path, reasons.UNREADABLE_REPOSITORY, str(error))
        return

    log.info(
        "%s: %d notebooks at %s (%s), dated from %d commits",
        repo_name,
        len(entries),
        rev,
        commit[:12],
        history.commits_read,
    )
    for entry in entries:
        dates = history.notebooks[entry.path]
        metadata: dict[str, object] = {
            "repo_path": entry.path,
            "head_commit": commit,
            "blob_sha": entry.object_id,
            "size_bytes": entry.size,
            "rev": rev,
        }
        if dates.note is not None:
            metadata["date_note"] = dates.note
        yield InputFile(
            source=source,
            source_kind=GIT_KIND,
            reader=GIT_KIND,
            path=str(repository.path),
            member=entry.path,
            ref=entry.object_id,
            stamp=f"git blob {entry.object_id}",
            repo=repo_name,
            html_url=github_blob_url(remote_url, commit, entry.path),
            first_commit_at=dates.first_commit_at,
            last_commit_at=dates.last_commit_at,
            repo_last_commit_at=history.repo_last_commit_at,
            date_origin="git" if dates.first_commit_at is not None else "none",
            metadata=metadata,
        )


def _repository_error(source: str, path: Path, reason: str, detail: str) -> InputFile:
    log.warning("cannot read git repository %s: %s", path, detail)
    return InputFile(
        source=source,
        source_kind=GIT_KIND,
        reader=GIT_KIND,
        path=os.fspath(path),
        error=(reason, detail),
    )


class _ReaderCache:
    """A few open `cat-file --batch` readers per worker process, newest kept."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._readers: OrderedDict[str, BlobReader] = OrderedDict()

    def get(self, path: str) -> BlobReader:
        reader = self._readers.pop(path, None)
        if reader is None:
            reader = BlobReader(GitRepository.open(Path(path)))
        self._readers[path] = reader

        while len(self._readers) > self.capacity:
            _, oldest = self._readers.popitem(last=False)
            oldest.close()
        return reader

    def clear(self) -> None:
        while self._readers:
            _, reader = self._readers.popitem()
            reader.close()


_readers = _ReaderCache(MAX_OPEN_REPOSITORIES)


def read_blob(input_file: InputFile, limits: Limits) -> bytes:
    """Read a notebook's blob from its repository (the `git` reader)."""
    if input_file.path is None or input_file.ref is None:
        raise NotebookError(reasons.INTERNAL_ERROR, "a git input needs a repository path and a blob id")

    try:
        reader = _readers.get(input_file.path)
        return reader.read(input_file.ref, max_bytes=limits.max_file_bytes)
    except BlobTooLarge as error:
        raise NotebookError(reasons.TOO_LARGE, str(error)) from None
    except GitError as error:
        raise NotebookError(reasons.UNREADABLE, str(error)) from None


def close_repositories() -> None:
    _readers.clear()


register_reader(GIT_KIND, read_blob)
register_source_kind(SourceKind(GIT_KIND, looks_like_repository, list_repository, nested=True), first=True)
