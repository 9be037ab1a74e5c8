"""Reason codes of raw.outcomes and the outcome each one leads to.

A reason is a short, stable code: dbt models, tests and users filter on it, so
codes are only ever added, never renamed. `failed` means the file could not be
read as a notebook. `skipped` means it was read, or could have been, but was
left out on purpose (another language, a size limit, an unsafe archive entry).
"""

from __future__ import annotations

from ingest.model import FAILED, SKIPPED

# Reading the bytes.
MISSING_FILE = "missing_file"  # the path, or the archive holding a member, does not exist
MISSING_MEMBER = "missing_member"  # the archive exists but has no such entry
MISSING_LOCATION = "missing_location"  # a manifest row names no notebook_path and no archive + member
UNREADABLE = "unreadable"  # permission denied, I/O error, corrupt or encrypted archive entry
UNSAFE_MEMBER_PATH = "unsafe_member_path"  # an archive entry named with `..` or an absolute path
INVALID_MANIFEST = "invalid_manifest"  # a manifest without the columns that locate notebooks

# Decoding the notebook.
EMPTY_FILE = "empty_file"
LFS_POINTER = "lfs_pointer"  # a Git LFS pointer file committed instead of the notebook
MERGE_CONFLICT = "merge_conflict"  # unresolved merge-conflict markers broke the JSON
INVALID_UTF8 = "invalid_utf8"
INVALID_JSON = "invalid_json"
NOT_A_NOTEBOOK = "not_a_notebook"  # valid JSON, but not an object with cells or worksheets

# Git repositories and the clones of `nbcensus collect` (see ingest.gitsource, ingest.clones).
CLONE_FAILED = "clone_failed"  # git clone failed, or the cache folder holds a clone of another remote
INVALID_LIST_ENTRY = "invalid_list_entry"  # a repository list line that is neither a URL nor owner/name
REVISION_NOT_FOUND = "revision_not_found"  # the repository has no commit named by --rev
UNREADABLE_REPOSITORY = "unreadable_repository"  # git could not open or list the repository

# Limits (see ingest.limits).
TOO_LARGE = "too_large"
TOO_MANY_CELLS = "too_many_cells"

# Policy.
NOT_PYTHON = "not_python"

# A bug or a crash inside nbcensus while handling the file; the traceback is logged.
INTERNAL_ERROR = "internal_error"
WORKER_CRASHED = "worker_crashed"  # the worker process died (for example a stack overflow)
TIMED_OUT = "timed_out"  # processing the file took longer than the per-file timeout

OUTCOME_OF_REASON: dict[str, str] = {
    MISSING_FILE: FAILED,
    MISSING_MEMBER: FAILED,
    MISSING_LOCATION: FAILED,
    UNREADABLE: FAILED,
    UNSAFE_MEMBER_PATH: SKIPPED,
    INVALID_MANIFEST: FAILED,
    EMPTY_FILE: FAILED,
    LFS_POINTER: FAILED,
    MERGE_CONFLICT: FAILED,
    INVALID_UTF8: FAILED,
    INVALID_JSON: FAILED,
    NOT_A_NOTEBOOK: FAILED,
    CLONE_FAILED: FAILED,
    INVALID_LIST_ENTRY: FAILED,
    REVISION_NOT_FOUND: FAILED,
    UNREADABLE_REPOSITORY: FAILED,
    TOO_LARGE: SKIPPED,
    TOO_MANY_CELLS: SKIPPED,
    NOT_PYTHON: SKIPPED,
    INTERNAL_ERROR: FAILED,
    WORKER_CRASHED: FAILED,
    TIMED_OUT: SKIPPED,
}

# Reasons that follow from the file's bytes and the limit options alone. A
# re-run reuses the stored rows of a file with such an outcome (or a plain
# success) while its fingerprint is unchanged (see `ingest.fingerprint`). Any
# other reason may change without the file changing: a permission fixed, an
# archive restored, a faster or less loaded machine, a fixed bug.
REUSABLE_REASONS = frozenset(
    {
        EMPTY_FILE,
        LFS_POINTER,
        MERGE_CONFLICT,
        INVALID_UTF8,
        INVALID_JSON,
        NOT_A_NOTEBOOK,
        TOO_LARGE,
        TOO_MANY_CELLS,
        NOT_PYTHON,
    }
)


def is_reusable(reason: str | None) -> bool:
    """Return whether a later run may reuse a file's rows. A reason of `None` is a plain success."""
    return reason is None or reason in REUSABLE_REASONS


def outcome_of(reason: str) -> str:
    """Return the outcome for a reason code; unknown codes count as failures."""
    return OUTCOME_OF_REASON.get(reason, FAILED)
