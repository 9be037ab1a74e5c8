"""Exceptions that carry a stable reason code and a message for the user."""

from __future__ import annotations


class NbcensusError(Exception):
    """An error the CLI reports as one line, `Error: ...`, with exit status 1."""


class NotebookError(NbcensusError):
    """A file that cannot be read as a notebook; `reason` goes to raw.outcomes.reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
