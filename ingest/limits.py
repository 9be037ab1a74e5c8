"""Size limits that protect an ingest from hostile or pathological inputs.

A file over a limit is not lost: it ends with outcome `skipped` and the limit's
reason code, so the coverage counts still add up. The defaults are set well
above what real notebooks need, so only broken or generated files reach them.
"""

from __future__ import annotations

from dataclasses import dataclass

MEBIBYTE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Maximum sizes accepted for one input file and its cells."""

    # NOTE: a notebook is decoded fully in memory (about 5x its size as Python
    # objects), so this bounds one worker's memory at roughly 5 x max_file_bytes.
    max_file_bytes: int = 64 * MEBIBYTE
    max_cells: int = 20_000
    # A longer code cell is recorded with status `failed` and error `too_long`
    # instead of being parsed; the rest of the notebook is still ingested.
    max_cell_chars: int = 500_000
    # Bracket depth above which a code cell is not handed to the parser, because
    # deeply nested expressions can exhaust the parser's stack.
    max_nesting: int = 100

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_cells", "max_cell_chars", "max_nesting"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")


DEFAULT_LIMITS = Limits()
