"""Progress reporting for long stages.

The CLI installs a rich progress display; stages only call :func:`track`. Without a display
(a Prefect worker, a notebook) progress goes to the Prefect/standard logger every 10%. Inside a
Prefect run it also updates a progress artifact (``sftforge.monitoring``), display or not.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Protocol

log = logging.getLogger("sftforge")


class Display(Protocol):
    def add_task(self, description: str, total: float | None = ...) -> int: ...
    def advance(self, task_id: int, advance: float = ...) -> None: ...
    def remove_task(self, task_id: int) -> None: ...


_display: Display | None = None
_lock = threading.Lock()


def install(display: Display | None) -> None:
    """Route progress to ``display`` (a ``rich.progress.Progress``), or back to logging."""
    global _display
    _display = display


def _logging_advance(desc: str, total: int) -> Callable[[int], None]:
    done = [0]
    step = max(1, total // 10)

    def advance(n: int = 1) -> None:
        with _lock:
            done[0] += n
            if done[0] % step == 0 or done[0] == total:
                log.info("%s: %d/%d", desc, done[0], total)

    return advance


@contextmanager
def track(desc: str, total: int) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n=1)`` for a unit of work of ``total`` items labelled ``desc``.

    Inside a Prefect run the work also shows as a progress artifact in the UI.
    """
    from sftforge.monitoring import progress_reporter

    with _local(desc, total) as local:
        remote = progress_reporter(desc, total)
        if remote is None:
            yield local
            return

        def both(n: int = 1) -> None:
            local(n)
            remote(n)

        yield both


@contextmanager
def _local(desc: str, total: int) -> Iterator[Callable[[int], None]]:
    """``advance`` on the installed display (the CLI's rich bar), or on the logger."""
    display = _display
    if display is None or total <= 0:
        yield _logging_advance(desc, total)
        return
    task_id = display.add_task(desc, total=total)
    try:
        yield lambda n=1: display.advance(task_id, n)
    finally:
        display.remove_task(task_id)
