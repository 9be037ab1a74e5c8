"""Number formats for values from the marts.

Formatting only rounds and adds units; it never fills a gap. A SQL null is
written as `n/a`, never as zero, because a missing share (no Python notebooks
in a month, say) is not a share of zero.
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal

MISSING = "n/a"

Number = int | float | Decimal


def count(value: Number | None) -> str:
    """Write a count with thousands separators: 12,345."""
    if value is None:
        return MISSING
    return f"{int(value):,}"


def percent(value: Number | None) -> str:
    """Write a share in [0, 1] as a percentage with two decimals: 0.0011 gives 0.11 %."""
    if value is None:
        return MISSING
    return f"{float(value) * 100:.2f} %"


def interval(low: Number | None, high: Number | None) -> str:
    """Write a 95 % interval of two shares: 0.08 % to 0.15 %."""
    if low is None or high is None:
        return MISSING
    return f"{percent(low)} to {percent(high)}"


def correlation(value: Number | None) -> str:
    """Write a correlation coefficient with two decimals, keeping its sign: -0.03."""
    if value is None:
        return MISSING
    return f"{float(value):.2f}"


def ratio(value: Number | None) -> str:
    """Write a ratio such as lift with two decimals."""
    if value is None:
        return MISSING
    return f"{float(value):.2f}"


def month(value: dt.date | dt.datetime | None) -> str:
    """Write a month as YYYY-MM."""
    if value is None:
        return MISSING
    return value.strftime("%Y-%m")


def text(value: object) -> str:
    """Escape a value from the warehouse (a package or service name) for HTML."""
    if value is None:
        return MISSING
    return html.escape(str(value))
