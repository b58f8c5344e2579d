"""What every command does with bad input: one red line on stderr and exit status 2."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.markup import escape

from skeleton_steering.config import ConfigError

# Errors that mean the user's input (files, flags, config) is wrong, not the program.
USER_ERRORS = (ConfigError, ValueError, KeyError, FileNotFoundError)


def report_user_error(console: Console, err: BaseException) -> int:
    console.print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True)
    return 2


def module_main(
    prog: str,
    description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    main_from_args: Callable[[argparse.Namespace, Console], int],
    argv: Sequence[str] | None = None,
) -> int:
    """`python -m skeleton_steering.<module>`: parse, run, and turn user errors into one line."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        return main_from_args(args, console)
    except USER_ERRORS as err:
        return report_user_error(console, err)
