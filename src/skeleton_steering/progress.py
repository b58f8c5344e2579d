"""Progress bars (rich) for steps that walk many clips or frames; drawn on stderr."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


def track(
    items: Iterable[T], description: str, total: int | None = None,
    console: Console | None = None,
) -> Iterator[T]:
    """Yield from `items` while showing a progress bar.

    Without a terminal (a log file) the bar is replaced by one summary line at the end.
    """
    console = console or Console(stderr=True)
    start = time.perf_counter()
    count = 0
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            count += 1
            progress.advance(task)
    if not console.is_terminal:
        console.print(f"{description}: {count} done in {time.perf_counter() - start:.1f} s")


def print_wide(console: Console, renderable: RenderableType, log_width: int = 200) -> None:
    """Print a table at the terminal's width, or `log_width` columns into a log file (nohup,
    a cluster job), where rich would otherwise squeeze it to 80."""
    if console.is_terminal:
        console.print(renderable)
        return
    # `print(width=...)` can only narrow the console, so widen the console itself meanwhile.
    before = console.width
    console.width = log_width
    try:
        console.print(renderable)
    finally:
        console.width = before
