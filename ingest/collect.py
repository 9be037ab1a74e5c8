"""Clone or fetch the git repositories listed in a file, then ingest them.

LIST is a text file with one repository per line: a clone URL or `owner/name`
(which stands for https://github.com/owner/name.git). Blank lines and `#`
comments are ignored. Each repository is kept as a bare clone in the cache
folder (`<cache>/<owner>__<name>.git`): cloned the first time, fetched on later
runs. Then every clone is ingested as a git source, so each notebook is dated
from its own history.

Clones and fetches run `--jobs` at a time. A clone that fails, or a line that
names no repository, ends as a `failed` outcome in raw.outcomes (reason
`clone_failed` or `invalid_list_entry`, with git's message as detail) and the
run goes on. A fetch that fails logs a warning and ingests the clone already
in the cache.

Examples:

    nbcensus collect repos.txt
    nbcensus collect repos.txt --cache /data/clones --rev v1.0 --warehouse /tmp/census.duckdb
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ingest import pipeline
from ingest.clones import INVALID_ENTRY, CloneResult, collect, read_list
from ingest.errors import NbcensusError
from ingest.gitsource import GIT_KIND
from ingest.sources import InputFile

DEFAULT_CACHE = Path("cache") / "repositories"
CACHE_ENV = "NBCENSUS_CACHE"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("list", metavar="LIST", type=Path, help="text file of clone URLs or owner/name, one a line")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE),
        help=f"folder of the bare clones (default: ${CACHE_ENV}, else {DEFAULT_CACHE})",
    )
    parser.add_argument(
        "--clone-timeout",
        type=_seconds,
        default=None,
        help="seconds one clone or fetch may take before it counts as failed (default: no limit)",
    )
    pipeline.add_ingest_options(parser)


def main(args: argparse.Namespace) -> int:
    entries = read_list(args.list)
    if not entries:
        raise NbcensusError(f"no repositories listed in {args.list}; write one clone URL or owner/name a line")

    jobs = args.jobs or pipeline.default_jobs()
    results = collect(entries, args.cache, jobs=jobs, timeout=args.clone_timeout)
    for result in results:
        print(f"{result.status:<19} {result.entry.name or result.entry.text}  {result.detail or result.path}")

    args.sources = [os.path.abspath(result.path) for result in results if result.is_usable]
    failures = [failed_input(result, args.list) for result in results if not result.is_usable]
    summary = pipeline.ingest_from_args(args, extra_inputs=failures)
    for line in summary.lines():
        print(line, file=sys.stderr)
    return 0


def failed_input(result: CloneResult, list_path: Path) -> InputFile:
    """Return the input file that records a failed clone or a bad list line as an outcome.

    A failed clone's source is its cache folder, so that a later run that
    clones it replaces the failure. A bad line's source is the list file.
    """
    entry = result.entry
    metadata: dict[str, object] = {"list_line": entry.line_number, "list_entry": entry.text}
    if result.status == INVALID_ENTRY:
        location = os.path.abspath(list_path)
        ref = f"line {entry.line_number}"
    else:
        location = os.path.abspath(result.path)
        ref = None
        metadata["url"] = entry.url

    return InputFile(
        source=location,
        source_kind=GIT_KIND,
        reader=GIT_KIND,
        path=location,
        ref=ref,
        repo=entry.name,
        metadata=metadata,
        error=(result.status, result.detail),
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {value}")
    return value
