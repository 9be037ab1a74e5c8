"""Date every notebook of a commit from its own history, in one pass over the log.

A notebook's lineage is every non-merge commit that added or modified the file
at its current path, followed back through renames and copies. A notebook moved
or copied to its path, unchanged or with edits, keeps the history of the file it
came from. A path that was deleted and later added again starts at the later
addition. `first_commit_at` is the earliest committer date in the lineage,
`last_commit_at` the latest; `repo_last_commit_at` is the newest committer date
of any commit reachable from the revision, merges included. All are UTC.

One `git log` walks the history newest first (children before parents) with
rename and copy detection limited to `*.ipynb` paths, and a tracker keeps, for
each path of the past, the notebooks of the revision whose lineage runs through
it. The walk stops early once no lineage is open.

All dates are left null, with a reason, when the history cannot be trusted: a
shallow clone (its oldest commits have no parents, so every lineage would end
there), a partial clone (rename detection would fetch missing blobs from its
remote), or a `git log` that fails.
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingest.gitrepo import GitError, GitRepository, decode_path

log = logging.getLogger(__name__)

# Reasons why a notebook's dates are null (raw.notebooks.date_note).
NOTE_SHALLOW_CLONE = "shallow_clone"
NOTE_PARTIAL_CLONE = "partial_clone"
NOTE_HISTORY_UNREADABLE = "history_unreadable"
NOTE_NOT_IN_HISTORY = "not_in_history"

_HEADER_PREFIX = b"commit "
_READ_SIZE = 1 << 20

# `git log` options shared by the dating walk and the benchmark. `--date-order`
# lists no parent before its children. `-M -C --find-copies-harder` detects
# renames and copies, including copies of files left unchanged by the commit.
# NOTE: `--find-copies-harder` compares every added file with every notebook of
# the parent, so it dominates the walk's time (about 20x plain `-M -C` in
# bench/git_dating.py). Listing again with it only the commits where a lineage
# ends or moves was tried and was slower, because those are most such commits.
LOG_OPTIONS = (
    "--no-merges",
    "--date-order",
    "-z",
    "--name-status",
    "-M",
    "-C",
    "--find-copies-harder",
    "--no-color",
    "--no-ext-diff",
    "--format=commit %H %ct",
)
# `*` matches `/` in a pathspec, so this is every notebook at any depth, in any case.
NOTEBOOK_PATHSPEC = ":(icase)*.ipynb"


@dataclass(frozen=True, slots=True)
class Change:
    """One file of a commit's `--name-status` output."""

    status: str  # A / M / D / R / C / T (first letter; the score is dropped)
    path: str  # the path after the commit
    source: str | None = None  # the path a rename or copy came from


@dataclass(slots=True)
class LogCommit:
    commit: str
    committed_at: int  # committer date, seconds since the epoch
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NotebookDates:
    first_commit_at: datetime | None
    last_commit_at: datetime | None
    note: str | None = None  # why the dates are null


@dataclass(slots=True)
class HistoryDates:
    """The dates of the notebooks of one commit, and how they were obtained."""

    commit: str
    repo_last_commit_at: datetime | None
    notebooks: dict[str, NotebookDates]
    note: str | None = None  # set when the whole history was unusable
    commits_read: int = 0  # commits of the log that were parsed
    seconds: float = 0.0


def parse_log(chunks: Iterable[bytes]) -> Iterator[LogCommit]:
    """Parse `git log -z --name-status --format='commit %H %ct'` output.

    Records are NUL-separated: a header `commit <id> <seconds>`, then for each
    file a status (`M`, `R095`, ...) followed by one path, or two for renames and
    copies. A header after a file list starts with a newline. Fields are read by
    position, so a path that looks like a header is still read as a path.
    """
    commit: LogCommit | None = None
    tokens = _split_tokens(chunks)
    for token in tokens:
        token = token.lstrip(b"\n")
        if not token:
            continue

        if token.startswith(_HEADER_PREFIX):
            if commit is not None:
                yield commit
            _, commit_id, seconds = token.split(b" ")
            commit = LogCommit(commit=commit_id.decode("ascii"), committed_at=int(seconds))
            continue

        if commit is None:
            raise ValueError(f"git log output starts with {token[:40]!r}, not a commit header")
        status = chr(token[0])
        first = decode_path(next(tokens))
        if status in ("R", "C"):
            commit.changes.append(Change(status, decode_path(next(tokens)), first))
        else:
            commit.changes.append(Change(status, first))

    if commit is not None:
        yield commit


def _split_tokens(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\0")
        yield from complete
    if pending:
        yield pending


class LineageTracker:
    """Follow the lineages of a set of paths backwards through commits.

    Feed it commits newest first. `_open` maps a path of the past to the
    indexes of the tracked paths whose lineage continues there. A commit that
    adds, renames or copies to an open path dates those lineages, then hands
    them over to the rename or copy source, or ends them for a plain addition.

    NOTE: one state serves the whole walk, not one per branch. When one branch
    renames a path while a parallel branch still edits it under the old name,
    the edits made after the rename (by date) are missed.
    """

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self.first: list[int | None] = [None] * len(self.paths)
        self.last: list[int | None] = [None] * len(self.paths)
        self._open: dict[str, set[int]] = {path: {index} for index, path in enumerate(self.paths)}

    @property
    def is_done(self) -> bool:
        """True when every lineage has ended, so older commits cannot matter."""
        return not self._open

    def add_commit(self, committed_at: int, changes: Sequence[Change]) -> None:
        # Every change of a commit is read against the state after the commit,
        # so a commit that swaps two paths by renames hands each lineage over once.
        for change in changes:
            if change.status in ("A", "M", "R", "C", "T"):
                for index in self._open.get(change.path, ()):
                    self._date(index, committed_at)

        handed_over: list[tuple[str, set[int]]] = []
        for change in changes:
            if change.status not in ("A", "R", "C"):
                continue
            indexes = self._open.pop(change.path, None)
            if indexes and change.source is not None:
                handed_over.append((change.source, indexes))

        for source, indexes in handed_over:
            self._open.setdefault(source, set()).update(indexes)

    def _date(self, index: int, committed_at: int) -> None:
        first = self.first[index]
        last = self.last[index]
        if first is None or committed_at < first:
            self.first[index] = committed_at
        if last is None or committed_at > last:
            self.last[index] = committed_at


def to_utc(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def null_dates(paths: Iterable[str], note: str) -> dict[str, NotebookDates]:
    return {path: NotebookDates(None, None, note) for path in paths}


def newest_commit_at(repository: GitRepository, commit: str) -> datetime | None:
    """Return the newest committer date of all commits reachable from COMMIT."""
    output = repository.git(["log", "--format=%ct", commit, "--"])
    seconds = [int(line) for line in output.split()]
    return to_utc(max(seconds)) if seconds else None


def date_notebooks(repository: GitRepository, commit: str, paths: Sequence[str]) -> HistoryDates:
    """Date PATHS (files of COMMIT) from the history reachable from COMMIT."""
    started = time.perf_counter()

    # Every date is left null when the history is incomplete, the repository's
    # newest date too, so that a notebook is either dated from git or not at all.
    note = None
    if repository.is_shallow():
        note = NOTE_SHALLOW_CLONE
    elif repository.is_partial_clone():
        note = NOTE_PARTIAL_CLONE
    if note is not None:
        log.warning("%s: %s, so notebook dates are left null", repository.path, note.replace("_", " "))
        return HistoryDates(commit, None, null_dates(paths, note), note=note)

    tracker = LineageTracker(paths)
    try:
        repo_last_commit_at = newest_commit_at(repository, commit)
        commits_read = _walk_log(repository, commit, tracker)
    except GitError as error:
        log.warning("%s: history unreadable, notebook dates left null: %s", repository.path, error)
        note = NOTE_HISTORY_UNREADABLE
        return HistoryDates(commit, None, null_dates(paths, note), note=note)

    notebooks: dict[str, NotebookDates] = {}
    for index, path in enumerate(tracker.paths):
        first, last = tracker.first[index], tracker.last[index]
        dates_note = NOTE_NOT_IN_HISTORY if first is None else None
        notebooks[path] = NotebookDates(to_utc(first), to_utc(last), dates_note)

    seconds = time.perf_counter() - started
    log.debug("%s: dated %d notebooks from %d commits in %.2f s", repository.path, len(paths), commits_read, seconds)
    return HistoryDates(commit, repo_last_commit_at, notebooks, commits_read=commits_read, seconds=seconds)


_SKIPPED_DETECTION = re.compile(rb"^warning: .*(rename|copy|copies).*$", re.MULTILINE)


def _walk_log(repository: GitRepository, commit: str, tracker: LineageTracker) -> int:
    """Feed TRACKER the log of COMMIT, newest first; return the commits read."""
    commits_read = 0
    with tempfile.TemporaryFile() as errors:
        process = repository.popen(["log", *LOG_OPTIONS, commit, "--", NOTEBOOK_PATHSPEC], stderr=errors)
        assert process.stdout is not None
        stopped_early = False
        try:
            for log_commit in parse_log(iter(lambda: process.stdout.read1(_READ_SIZE), b"")):  # type: ignore[union-attr]
                commits_read += 1
                tracker.add_commit(log_commit.committed_at, log_commit.changes)
                if tracker.is_done:
                    stopped_early = True
                    break
        finally:
            if stopped_early:
                process.kill()
            process.stdout.close()
            returncode = process.wait()

        errors.seek(0)
        error_output = errors.read()

    if returncode != 0 and not stopped_early:
        message = error_output.decode("utf-8", "replace").strip()
        raise GitError(f"git log failed (exit {returncode}): {message}")

    # NOTE: past diff.renameLimit (sources x destinations), git skips inexact
    # rename and copy detection for that commit and only warns. Those lineages
    # then end at the addition instead of following the edited copy back.
    skipped = _SKIPPED_DETECTION.findall(error_output)
    if skipped:
        log.warning("%s: git skipped inexact rename detection on %d commits", repository.path, len(skipped))
    return commits_read


