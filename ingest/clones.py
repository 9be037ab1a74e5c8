"""Keep bare clones of listed repositories in a cache folder: clone once, then fetch.

A list file has one repository per line: a clone URL (`https://`, `http://`,
`ssh://`, `git://`, `file://`, scp-like `git@host:owner/name.git`, or an
absolute path) or `owner/name`, which stands for `https://github.com/owner/name.git`.
Blank lines and lines starting with `#` are ignored, and so is text after ` #`.

Each repository is kept as a bare clone at `<cache>/<owner>__<name>.git`. A
first clone goes to a temporary folder that is renamed into place only when
`git clone` succeeds, so an interrupted clone never looks like a finished one.
A clone that fails is an outcome with git's message; it does not stop the run.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ingest import reasons
from ingest.errors import NbcensusError
from ingest.gitrepo import GitError, looks_like_repository, repository_name_from_url, run_git

log = logging.getLogger(__name__)

GITHUB_URL = "https://github.com/{name}.git"
# Fetch every branch and tag into the bare clone's own refs. A bare clone has
# no fetch refspec, so a plain `git fetch` would only fill FETCH_HEAD.
FETCH_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")

_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:[^/].*$")
_URL_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_.-]")

# Statuses of one list entry; the failures are also raw.outcomes reasons.
CLONED = "cloned"
FETCHED = "fetched"
FETCH_FAILED = "fetch_failed"  # the cached clone is still read, but may be old
CLONE_FAILED = reasons.CLONE_FAILED
INVALID_ENTRY = reasons.INVALID_LIST_ENTRY


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One repository line of a list file."""

    line_number: int
    text: str  # as written, without comment
    url: str | None  # None when the text is not a URL or owner/name
    name: str | None  # owner/name


@dataclass(frozen=True, slots=True)
class CloneResult:
    entry: ListEntry
    path: Path  # where the bare clone is, or would be
    status: str  # cloned / fetched / fetch_failed / clone_failed / invalid_list_entry
    detail: str = ""

    @property
    def is_usable(self) -> bool:
        """True when a clone is in the cache to be read (maybe an old one)."""
        return self.status in (CLONED, FETCHED, FETCH_FAILED)


def entry_url(text: str) -> str | None:
    """Return the clone URL of a list entry, or None when it is neither a URL nor owner/name."""
    if _OWNER_NAME.match(text) and not text.startswith((".", "-")):
        return GITHUB_URL.format(name=text.removesuffix(".git"))
    if text.startswith(_URL_SCHEMES) or _SCP_LIKE.match(text) or text.startswith("/"):
        return text
    return None


def parse_list(lines: Sequence[str]) -> list[ListEntry]:
    """Parse the lines of a list file into entries; duplicates are kept once."""
    entries: list[ListEntry] = []
    seen: set[str] = set()
    for number, raw_line in enumerate(lines, start=1):
        text = raw_line.split(" #", 1)[0].strip()
        if not text or text.startswith("#"):
            continue

        url = entry_url(text)
        name = repository_name_from_url(url) if url else None
        key = url or text
        if key in seen:
            log.info("line %d: %s is listed twice; cloned once", number, text)
            continue
        seen.add(key)
        entries.append(ListEntry(number, text, url, name))
    return entries


def read_list(path: Path) -> list[ListEntry]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise NbcensusError(f"cannot read repository list {path}: {error.strerror or error}") from error
    return parse_list(text.splitlines())


def cache_folder_name(name: str) -> str:
    """Return `owner__name.git` for `owner/name`, with unsafe characters replaced."""
    parts = [_UNSAFE_NAME_CHARACTERS.sub("_", part) or "_" for part in name.split("/")]
    folder = "__".join(parts)
    return f"{folder.lstrip('.') or '_'}.git"


def clone_or_fetch(entry: ListEntry, cache: Path, timeout: float | None = None) -> CloneResult:
    """Clone ENTRY into CACHE, or fetch it when its clone is already there."""
    if entry.url is None or entry.name is None:
        detail = f"line {entry.line_number}: {entry.text!r} is not a clone URL or owner/name"
        return CloneResult(entry, cache / "invalid", INVALID_ENTRY, detail)

    destination = cache / cache_folder_name(entry.name)
    if looks_like_repository(destination):
        return _fetch(entry, destination, timeout)
    return _clone(entry, destination, timeout)


def _clone(entry: ListEntry, destination: Path, timeout: float | None) -> CloneResult:
    assert entry.url is not None
    partial = destination.with_name(f"{destination.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)

    log.info("cloning %s", entry.url)
    try:
        run_git(["clone", "--bare", "--quiet", "--", entry.url, str(partial)], timeout=timeout)
    except GitError as error:
        shutil.rmtree(partial, ignore_errors=True)
        log.warning("clone of %s failed: %s", entry.url, error)
        return CloneResult(entry, destination, CLONE_FAILED, str(error))

    partial.rename(destination)
    return CloneResult(entry, destination, CLONED)


def _fetch(entry: ListEntry, destination: Path, timeout: float | None) -> CloneResult:
    git_dir = f"--git-dir={destination}"
    try:
        origin = run_git([git_dir, "config", "--get", "remote.origin.url"]).decode("utf-8", "replace").strip()
    except GitError:
        origin = ""
    if origin != entry.url:
        detail = f"{destination} is a clone of {origin or 'an unknown remote'}, not of {entry.url}"
        log.warning("cannot fetch %s: %s", entry.url, detail)
        return CloneResult(entry, destination, CLONE_FAILED, detail)

    log.info("fetching %s", entry.url)
    try:
        run_git([git_dir, "fetch", "--quiet", "--prune", "origin", *FETCH_REFSPECS], timeout=timeout)
    except GitError as error:
        log.warning("fetch of %s failed; reading the cached clone: %s", entry.url, error)
        return CloneResult(entry, destination, FETCH_FAILED, str(error))
    # NOTE: HEAD keeps the default branch the remote had at the first clone; a
    # remote that later changes its default branch needs a fresh clone.
    return CloneResult(entry, destination, FETCHED)


def collect(entries: Sequence[ListEntry], cache: Path, jobs: int = 1, timeout: float | None = None) -> list[CloneResult]:
    """Clone or fetch every entry into CACHE, JOBS at a time; return one result each."""
    cache.mkdir(parents=True, exist_ok=True)

    # Two URLs with the same owner/name would share one cache folder: the first
    # listed wins, and the others fail before any thread could race on it.
    results: dict[int, CloneResult] = {}
    claimed: dict[str, ListEntry] = {}
    to_run: list[ListEntry] = []
    for index, entry in enumerate(entries):
        folder = cache_folder_name(entry.name) if entry.name else None
        if folder is not None and folder in claimed:
            first = claimed[folder]
            detail = f"{entry.url} and {first.url} (line {first.line_number}) share the cache folder {folder}"
            results[index] = CloneResult(entry, cache / folder, CLONE_FAILED, detail)
            continue
        if folder is not None:
            claimed[folder] = entry
        to_run.append(entry)

    # Threads suffice because each clone waits on a git subprocess.
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        finished = dict(zip(map(id, to_run), pool.map(lambda entry: clone_or_fetch(entry, cache, timeout), to_run)))
    return [results[index] if index in results else finished[id(entry)] for index, entry in enumerate(entries)]
