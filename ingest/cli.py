"""Command-line entry point: `nbcensus ingest|run|report|docs|collect`.

The CLI only parses arguments, configures logging and maps errors to exit codes.
Each subcommand's options and behaviour live in the module that implements it,
so everything stays importable and testable without the CLI.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from ingest import __version__
from ingest.errors import NbcensusError

log = logging.getLogger(__name__)

# Subcommand name -> (module, help). Each module defines
# `add_arguments(parser)` and `main(args) -> int`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("ingest.pipeline", "Read notebooks and load imports and uses into the raw schema."),
    "run": ("ingest.run", "Ingest, build the dbt marts and write the report, in one command."),
    "report": ("reports.build", "Write the HTML report from the marts."),
    "docs": ("ingest.dbt", "Generate the dbt docs site as one offline page."),
    "collect": ("ingest.collect", "Clone or fetch git repositories listed in a file, then ingest them."),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbcensus",
        description="Measure how Python packages are really used in Jupyter notebooks.",
    )
    parser.add_argument("--version", action="version", version=f"nbcensus {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, (module_name, help_text) in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # NOTE: only a missing subcommand module is tolerated, so that one
            # unfinished command does not break the others; tests/test_cli.py
            # checks that every command is registered.
            if error.name != module_name:
                raise
            log.debug("subcommand %s unavailable: %s", name, error)
            continue
        subparser = subparsers.add_parser(
            name,
            help=help_text,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(subparser)
        subparser.set_defaults(handler=module.main)

    return parser


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)

    try:
        return int(args.handler(args))
    except NbcensusError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
