"""What every command does when it cannot go on: one red line on stderr and an exit status.

Every command (`skeleton-steering <sub>` and the `python -m skeleton_steering.<module>` entry
points) runs through `run_guarded`, the one place where errors become exit statuses:

* 2: the user's input (files, flags, config) is wrong: `ConfigError`, `ValueError` (each
  format error of the package is one), `KeyError`, `FileNotFoundError`.
* 1: the system refused: any other `OSError` (permission denied, read-only file system, disk
  full, a directory where a file should be), named with its path; `MemoryError`.
* 130: Ctrl-C (`KeyboardInterrupt`) outside the training loop, which saves a checkpoint itself.

Python sees Ctrl-C only between bytecodes, so during a long native call (XLA compiling a
training iteration for minutes) it would wait for the call to end; `exit_at_once_on_ctrl_c`
makes such a phase end at once instead.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence

from rich.console import Console
from rich.markup import escape

from skeleton_steering.arg_types import ArgumentParser
from skeleton_steering.config import ConfigError

# Errors that mean the user's input (files, flags, config) is wrong, not the program.
USER_ERRORS = (ConfigError, ValueError, KeyError, FileNotFoundError)

EXIT_USER_ERROR = 2
EXIT_SYSTEM_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd command


def _error_line(console: Console, message: str) -> None:
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def report_user_error(console: Console, err: BaseException) -> int:
    _error_line(console, str(err))
    return EXIT_USER_ERROR


def describe_os_error(err: OSError) -> str:
    """`path: reason` for an OS error (`path -> other: reason` for renames)."""
    reason = err.strerror or (errno.errorcode.get(err.errno or 0) if err.errno else None)
    if err.filename is None:
        return str(err) if str(err) else f"{type(err).__name__}: {reason or 'OS error'}"
    target = str(err.filename)
    if err.filename2 is not None:
        target += f" -> {err.filename2}"
    return f"{target}: {reason or str(err)}"


def run_guarded(console: Console, call: Callable[[], int | None]) -> int:
    """Run `call` and turn what it raises into one line on `console` and an exit status."""
    try:
        status = call()
    except KeyboardInterrupt:
        _error_line(console, "interrupted (Ctrl-C); finished outputs are kept, no output was "
                    "left half-written")
        return EXIT_INTERRUPTED
    except FileNotFoundError as err:
        # Raised by the package with a message, or by the OS with a path.
        _error_line(console, describe_os_error(err) if err.filename else str(err))
        return EXIT_USER_ERROR
    except USER_ERRORS as err:
        # A UnicodeDecodeError that reaches here was not caught where the file is known.
        return report_user_error(console, err)
    except OSError as err:
        _error_line(console, describe_os_error(err))
        return EXIT_SYSTEM_ERROR
    except MemoryError:
        _error_line(console, "out of memory")
        return EXIT_SYSTEM_ERROR
    return 0 if status is None else int(status)


@contextlib.contextmanager
def exit_at_once_on_ctrl_c(console: Console, phase: str) -> Iterator[None]:
    """Ctrl-C inside the block prints one line and ends the process at once (status 130).

    Only for blocks that write nothing (the process ends without cleanup; open files and
    locks are released by the kernel). Python's Ctrl-C handler still runs in the main thread,
    but the C-level signal also wakes a watcher thread through `signal.set_wakeup_fd`, which
    runs while the main thread is inside native code that released the GIL.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # a custom handler (e.g. the training loop's) decides itself
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous = signal.set_wakeup_fd(write_fd)

    def watch() -> None:
        while (byte := os.read(read_fd, 1)) and byte[0] != 0:
            if byte[0] == signal.SIGINT:
                _error_line(console, f"interrupted (Ctrl-C) while {phase}; nothing was "
                            "half-written")
                sys.stderr.flush()
                os._exit(EXIT_INTERRUPTED)

    watcher = threading.Thread(target=watch, name="ctrl-c-watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.write(write_fd, b"\0")  # wake the watcher to end it
        watcher.join()
        os.close(read_fd)
        os.close(write_fd)


def module_main(
    prog: str,
    description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    main_from_args: Callable[[argparse.Namespace, Console], int],
    argv: Sequence[str] | None = None,
) -> int:
    """`python -m skeleton_steering.<module>`: parse, run, and turn errors into one line."""
    parser = ArgumentParser(prog=prog, description=description,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    console = Console(stderr=True)
    return run_guarded(console, lambda: main_from_args(parser.parse_args(argv), console))
