"""A per-process cache of cell parses, keyed by the cell's neutralised text.

Notebooks repeat cells: the same imports, the same `sagemaker.Session()` setup,
the same empty cell. The result of parsing a cell does not depend on the
notebook around it (see `ingest.events`), so a cell's text is parsed once per
process and every later copy reuses the events.
"""

from __future__ import annotations

from ingest.events import CellParse

# An entry takes about 3.8 KB (events and key text, measured with tracemalloc
# on 9,000 distinct corpus cells), so the default bound is about 190 MB.
# NOTE: on the 8,032-notebook corpus with --jobs 2, a bound of 1,000 entries ran
# faster than this default (43.8 s against 48.4 s, bench/RESULTS.md) although
# it reused fewer parses, so this default may be larger than it should be.
DEFAULT_MAX_ENTRIES = 50_000


class CellCache:
    """Least-recently-used map from neutralised cell text to its `CellParse`."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: dict[str, CellParse] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, text: str) -> CellParse | None:
        """Return the cached parse of text, counting a hit or a miss."""
        entry = self._entries.pop(text, None)
        if entry is None:
            self.misses += 1
            return None
        self._entries[text] = entry  # re-insert: most recently used last
        self.hits += 1
        return entry

    def put(self, text: str, parse: CellParse) -> None:
        self._entries[text] = parse
        if len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0
