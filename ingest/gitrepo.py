"""A local git repository read through the `git` command, without a checkout.

Every call runs `git` as a subprocess with an argument list (never a shell
string) and parses a NUL-separated output format (`ls-tree -z`, `cat-file
--batch`), so paths with spaces, quotes, newlines or non-UTF-8 bytes survive.
Paths are decoded as UTF-8 with `surrogateescape`, the way `os.fsdecode` does on
Linux, so that a path read from `ls-tree` and the same path read from `git log`
are equal strings.

A repository may be a work tree (a folder with `.git`) or a bare repository.
Both are opened by their git directory, so the work tree's files, index and
uncommitted changes are never read.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import quote, urlsplit

from ingest.errors import NbcensusError

log = logging.getLogger(__name__)

NOTEBOOK_SUFFIX = ".ipynb"
CHECKPOINTS_DIR = ".ipynb_checkpoints"

# Tree entry modes: regular files are 100644 or 100755; 120000 is a symbolic
# link and 160000 a submodule commit.
REGULAR_FILE_MODES = ("100644", "100755")
SYMLINK_MODE = "120000"

# Environment variables that would make `git` read another repository, index
# or object store than the one this module opened.
_REPOSITORY_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)

# Options passed to every command so that user or system configuration cannot
# change the formats parsed here (colour codes, signatures, relative paths).
_STABLE_CONFIG = (
    "-c", "color.ui=false",
    "-c", "core.quotePath=false",
    "-c", "log.showSignature=false",
    "-c", "log.showRoot=true",
    "-c", "diff.relative=false",
    "-c", "diff.external=",
)  # fmt: skip


class GitError(NbcensusError):
    """A `git` command failed; the message includes git's own error output."""


class BlobTooLarge(GitError):
    """A blob over the size limit given to `BlobReader.read`; it was not kept."""

    def __init__(self, object_id: str, size: int, max_bytes: int) -> None:
        super().__init__(f"blob {object_id} is {size:,} bytes, over the limit of {max_bytes:,}")
        self.size = size


def decode_path(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def git_environment() -> dict[str, str]:
    """Return the environment for `git` subprocesses: no prompts, no redirection."""
    env = {key: value for key, value in os.environ.items() if key not in _REPOSITORY_ENV}

    # A clone of a private or missing repository must fail, not wait for a password.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    return env


def run_git(args: Sequence[str], *, cwd: Path | None = None, timeout: float | None = None) -> bytes:
    """Run `git ARGS` and return its standard output; raise GitError on failure."""
    command = ["git", *_STABLE_CONFIG, *args]
    log.debug("running %s", command)
    try:
        completed = subprocess.run(
            command,
            cwd=cwd,
            env=git_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as error:
        raise GitError("the git command was not found; install git to read git repositories") from error
    except subprocess.TimeoutExpired as error:
        raise GitError(f"git {args[0] if args else ''} timed out after {timeout} s") from error

    if completed.returncode != 0:
        # One line, so that the message reads well in a log line or an outcome's detail.
        lines = completed.stderr.decode("utf-8", "replace").splitlines()
        message = " ".join(line.strip() for line in lines if line.strip())
        raise GitError(f"git {' '.join(args[:1])} failed (exit {completed.returncode}): {message}")
    return completed.stdout


def looks_like_repository(path: Path) -> bool:
    """Tell from the file system alone whether PATH is the top of a repository.

    True for a work tree (it contains `.git`, a folder or a `gitdir:` file) and
    for a bare repository (`HEAD`, `objects/` and `refs/` side by side). A
    folder inside a work tree is not the top, so it stays a plain folder.
    """
    if not path.is_dir():
        return False
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir()


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One file of a commit's tree."""

    path: str
    mode: str
    object_type: str  # blob / tree / commit (a submodule)
    object_id: str
    size: int | None  # bytes; None for submodules

    @property
    def is_regular_file(self) -> bool:
        return self.object_type == "blob" and self.mode in REGULAR_FILE_MODES

    @property
    def is_notebook(self) -> bool:
        """A `*.ipynb` path (any case) outside `.ipynb_checkpoints/`, whatever its mode."""
        if not self.path.lower().endswith(NOTEBOOK_SUFFIX):
            return False
        return CHECKPOINTS_DIR not in self.path.split("/")[:-1]


@dataclass(frozen=True, slots=True)
class GitRepository:
    """An opened repository: its git directory, and its work tree if it has one."""

    path: Path  # the folder as given, resolved
    git_dir: Path
    is_bare: bool

    @classmethod
    def open(cls, path: Path) -> GitRepository:
        """Open the repository whose top is PATH; raise GitError if it is not one."""
        path = path.resolve()
        if not looks_like_repository(path):
            raise GitError(f"{path} is not a git repository (no .git inside, and not a bare repository)")

        output = run_git(["rev-parse", "--absolute-git-dir", "--is-bare-repository"], cwd=path)
        git_dir, is_bare = decode_path(output).splitlines()[:2]
        return cls(path=path, git_dir=Path(git_dir), is_bare=is_bare == "true")

    def git(self, args: Sequence[str], *, timeout: float | None = None) -> bytes:
        return run_git([f"--git-dir={self.git_dir}", *args], timeout=timeout)

    def popen(
        self,
        args: Sequence[str],
        *,
        stdin: int | None = subprocess.DEVNULL,
        stderr: int | IO[bytes] | None = subprocess.DEVNULL,
    ) -> subprocess.Popen[bytes]:
        """Start `git ARGS` with piped output, for outputs too large to hold twice.

        STDERR must not be a pipe unless the caller drains it: git can write a
        warning per commit, and a full pipe would stall the command.
        """
        command = ["git", *_STABLE_CONFIG, f"--git-dir={self.git_dir}", *args]
        log.debug("starting %s", command)
        return subprocess.Popen(
            command,
            env=git_environment(),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )

    @property
    def folder_name(self) -> str:
        """The repository's folder name, without a `.git` suffix."""
        folder = self.path.parent if self.path.name == ".git" else self.path
        name = folder.name
        return name[: -len(".git")] if name.endswith(".git") and len(name) > 4 else name

    def resolve_commit(self, rev: str) -> str:
        """Return the full commit id REV names; raise GitError when it names none."""
        try:
            output = self.git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"])
        except GitError as error:
            raise GitError(f"revision {rev!r} is not a commit in {self.path}: {error}") from error
        return output.decode("ascii").strip()

    def is_shallow(self) -> bool:
        return self.git(["rev-parse", "--is-shallow-repository"]).strip() == b"true"

    def is_partial_clone(self) -> bool:
        """Tell whether this is a partial clone (`--filter`), which fetches missing objects on demand."""
        try:
            output = self.git(["config", "--get", "extensions.partialClone"])
        except GitError:
            return False
        return bool(output.strip())

    def remote_url(self, remote: str = "origin") -> str | None:
        try:
            output = self.git(["config", "--get", f"remote.{remote}.url"])
        except GitError:
            return None  # `git config --get` exits 1 when the key is not set
        return decode_path(output).strip() or None

    def list_tree(self, commit: str) -> list[TreeEntry]:
        """List every file of COMMIT's tree, recursively, with blob sizes."""
        output = self.git(["ls-tree", "-r", "-z", "-l", "--full-tree", commit])
        return [parse_tree_entry(record) for record in output.split(b"\0") if record]

    def list_notebooks(self, commit: str) -> list[TreeEntry]:
        """List COMMIT's notebooks that are regular files, sorted by path.

        Symbolic links and submodules named `*.ipynb` and anything inside
        `.ipynb_checkpoints/` are left out, as a folder walk leaves them out.
        """
        entries = [entry for entry in self.list_tree(commit) if entry.is_notebook and entry.is_regular_file]
        return sorted(entries, key=lambda entry: entry.path)

    def repository_name(self) -> str:
        """Return `owner/name` from the origin remote, else the folder name."""
        url = self.remote_url()
        if url:
            name = repository_name_from_url(url)
            if name:
                return name
        return self.folder_name


def parse_tree_entry(record: bytes) -> TreeEntry:
    """Parse one `ls-tree -l -z` record: `MODE TYPE ID SIZE<TAB>PATH`."""
    header, _, raw_path = record.partition(b"\t")
    mode, object_type, object_id, size = header.decode("ascii").split()
    return TreeEntry(
        path=decode_path(raw_path),
        mode=mode,
        object_type=object_type,
        object_id=object_id,
        size=int(size) if size.isdigit() else None,
    )


_SCP_LIKE_URL = re.compile(r"^(?:[^@/]+@)?[^/:]+:(?P<path>.+)$")


def repository_name_from_url(url: str) -> str | None:
    """Return `owner/name` from a clone URL: its last two path components.

    Handles `https://host/owner/name.git`, `ssh://git@host/owner/name`,
    scp-like `git@host:owner/name.git` and local paths or `file://` URLs (whose
    last two folders stand for owner and name). Returns None for an empty path.
    """
    if "://" in url:
        path = urlsplit(url).path
    else:
        match = _SCP_LIKE_URL.match(url)
        path = match.group("path") if match and not url.startswith("/") else url

    parts = [part for part in path.strip("/").split("/") if part]
    if not parts:
        return None
    if parts[-1] == ".git":
        parts = parts[:-1]
    if parts and parts[-1].endswith(".git") and len(parts[-1]) > 4:
        parts[-1] = parts[-1][: -len(".git")]
    return "/".join(parts[-2:]) or None


def github_blob_url(remote_url: str | None, commit: str, path: str) -> str | None:
    """Return the github.com page of PATH at COMMIT, or None for other hosts."""
    if not remote_url:
        return None
    host = urlsplit(remote_url).hostname if "://" in remote_url else remote_url.partition("@")[2].partition(":")[0]
    if host != "github.com":
        return None
    name = repository_name_from_url(remote_url)
    if not name or "/" not in name:
        return None
    return f"https://github.com/{name}/blob/{commit}/{quote(path)}"


class BlobReader:
    """Read blobs through one long-lived `git cat-file --batch` process.

    Starting `git` once per notebook costs a few milliseconds each; one batch
    process per repository and reader process reads thousands of blobs a second.
    Not thread-safe: use one reader per thread or process.
    """

    def __init__(self, repository: GitRepository) -> None:
        self.repository = repository
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = self.repository.popen(["cat-file", "--batch"], stdin=subprocess.PIPE)
        return self._process

    def read(self, object_id: str, max_bytes: int | None = None) -> bytes:
        """Return the bytes of blob OBJECT_ID; raise GitError if it is missing.

        A blob over MAX_BYTES raises BlobTooLarge; its bytes are read from the
        pipe in small chunks and dropped, so memory stays bounded.
        """
        process = self._start()
        assert process.stdin is not None and process.stdout is not None

        try:
            process.stdin.write(object_id.encode("ascii") + b"\n")
            process.stdin.flush()
            header = process.stdout.readline()
        except BrokenPipeError as error:
            self.close()
            raise GitError(f"git cat-file stopped while reading {object_id}") from error

        fields = header.split()
        if len(fields) != 3:
            # `<id> missing` (or nothing, when git died): the object is not in the repository.
            if not header:
                self.close()
            raise GitError(f"object {object_id} is missing from {self.repository.path}")

        object_type, size = fields[1], int(fields[2])
        if max_bytes is not None and size > max_bytes:
            self._discard(process, size + 1)
            raise BlobTooLarge(object_id, size, max_bytes)

        content = process.stdout.read(size)
        process.stdout.read(1)  # the newline that ends each object
        if object_type != b"blob":
            raise GitError(f"object {object_id} is a {object_type.decode()}, not a blob")
        return content

    @staticmethod
    def _discard(process: subprocess.Popen[bytes], count: int) -> None:
        assert process.stdout is not None
        while count > 0:
            chunk = process.stdout.read(min(count, 1 << 20))
            if not chunk:
                break
            count -= len(chunk)

    def read_many(self, object_ids: Iterable[str]) -> Iterable[tuple[str, bytes]]:
        for object_id in object_ids:
            yield object_id, self.read(object_id)

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
