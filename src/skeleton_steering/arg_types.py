"""Command-line numbers every subcommand checks the same way, and one-line usage errors.

The `type=` functions refuse, at parsing, what the code could not compute with: non-finite
floats (`inf` and `nan` parse as floats), seeds outside 0..2^32-1 (a JAX PRNG key holds 32
bits of seed; a larger one overflows or collides silently) and counts beyond int32 (JAX
counts steps in 32 bits). `ArgumentParser` reports a bad flag as one line naming it, raised
as `UsageError` so that `entry.run_guarded` prints it like every other input error.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn

from skeleton_steering.config import INT32_MAX, SEED_MAX


class UsageError(ValueError):
    """A flag is missing, unknown or has a bad value; the message names it."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with an error raised as one line instead of the usage text and an exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """A finite float."""
    return _float(text)


def non_negative_float(text: str) -> float:
    """A finite float >= 0 (a duration)."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite float > 0."""
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def int_in(low: int, high: int, what: str = "an integer") -> Callable[[str], int]:
    """A `type=` function for integers in low..high."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {what}, an integer in {low}..{high}, got {text!r}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {what} in {low}..{high}, got {text}")
        return value

    parse.__name__ = what  # argparse names the type in some of its own messages
    return parse


seed = int_in(0, SEED_MAX, "a seed")
count = int_in(1, INT32_MAX, "a count")  # steps, episodes, envs: at least one, within int32
index = int_in(0, INT32_MAX, "an index")
