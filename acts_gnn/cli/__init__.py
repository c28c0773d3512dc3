"""The ``acts-gnn`` command: ``acts-gnn <subcommand> --help`` for each one.

* :mod:`acts_gnn.cli.options` -- the option helpers (``add_input_option``,
  ``add_events_option``, ``add_selection_options``, ...) every subcommand's arguments are
  built from, so that an option means and defaults the same everywhere;
* :mod:`acts_gnn.cli.parser` -- each subcommand's arguments, and :func:`build_parser`;
* :mod:`acts_gnn.cli.commands` -- what each subcommand runs (``cmd_<command>(args)``).

:func:`main` runs ``acts-gnn`` (also ``python -m acts_gnn.cli``), :func:`train_main` runs
``python -m acts_gnn.train`` (``train gnn`` for torchrun). Exit codes: 0 done; 1 a check
failed (``geometry``); 2 bad arguments or input (argparse's usage errors included).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from acts_gnn.cli.commands import cmd_train_gnn
from acts_gnn.cli.parser import build_parser, build_train_parser
from acts_gnn.distributed.executor import ChunkError
from acts_gnn.errors import InputDataError


def _configure_logging(verbose: bool, level: int) -> None:
    """Log at ``level`` when ``verbose``, else warnings only."""
    logging.basicConfig(
        level=level if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``acts-gnn`` with ``argv`` (default: the command line); returns the exit code."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose, logging.DEBUG)
    try:
        return int(args.func(args))
    except InputDataError as err:
        print(f"acts-gnn {args.command}: bad input: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, ChunkError) as err:  # ChunkError: a Dask task's
        print(f"acts-gnn {args.command}: {err}", file=sys.stderr)
        return 2


def train_main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m acts_gnn.train`` (``acts-gnn train gnn``'s options; torchrun-friendly)."""
    args: argparse.Namespace = build_train_parser().parse_args(argv)
    _configure_logging(args.verbose, logging.INFO)
    try:
        return cmd_train_gnn(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"acts-gnn train gnn: {err}", file=sys.stderr)
        return 2


__all__ = ["build_parser", "main", "train_main"]
