"""Run a parser in a worker process with a deadline, so one file cannot stop a build.

``call(target, args, seconds, extra_per_unit, on_event)`` runs ``target`` ("module:function")
with ``args`` in a child Python process and returns its result, re-raises the exception it
raised, or raises ``Timeout`` after ``seconds`` (the worker is killed) and ``WorkerDied`` when
the process crashed (e.g. a segfault in a native library). A function with a ``report``
keyword gets ``report(event, n)`` to report progress: the event "pages" (n pages of slow work
ahead, e.g. OCR) moves the deadline by ``n * extra_per_unit`` seconds; every event is passed
on to ``on_event``. Workers are reused between calls (the OCR models load once per worker) and a
killed one is replaced.

The child is a plain subprocess (not ``multiprocessing``): Dask worker processes are
daemonic and may not start ``multiprocessing`` children. Messages are pickles over the
child's stdout; anything the child's libraries print goes to its stderr.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from typing import Any, Callable

Event = Callable[[str, int], None]


class Timeout(Exception):
    """The worker did not finish in time (it was killed); ``seconds`` is the limit used."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no result after {seconds:.0f} s")
        self.seconds = seconds


class WorkerDied(Exception):
    """The worker process ended without a result (``code`` is its exit status)."""


class _Worker:
    """One child process and a reader thread queueing its messages."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "sftforge.parsing.isolate"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                self.messages.put(pickle.load(self.proc.stdout))
        except (EOFError, OSError, pickle.UnpicklingError):
            self.messages.put(("died", self.proc.wait()))

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


_idle: list[_Worker] = []
_lock = threading.Lock()


def call(target: str, args: tuple, seconds: float, extra_per_unit: float = 0.0,
         on_event: Event | None = None) -> Any:
    """``target(*args, report=...)`` in a worker process, within ``seconds`` (see module)."""
    with _lock:
        worker = _idle.pop() if _idle else _Worker()
    try:
        pickle.dump((target, args), worker.proc.stdin)
        worker.proc.stdin.flush()
        kind, value = _wait(worker, seconds, extra_per_unit, on_event)
    except BaseException:
        worker.kill()
        raise
    with _lock:
        _idle.append(worker)
    if kind == "error":
        raise value
    return value


def _wait(worker: _Worker, seconds: float, extra: float, on_event: Event | None) -> tuple:
    """The worker's ("ok"|"error", value), passing progress events on; raises on time out."""
    limit = seconds
    deadline = time.monotonic() + seconds
    while True:
        try:
            msg = worker.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise Timeout(limit) from None
        if msg[0] == "died":
            raise WorkerDied(f"the parser process ended with status {msg[1]}")
        if msg[0] == "event":
            _, event, n = msg
            if event == "pages":
                deadline += n * extra
                limit += n * extra
            if on_event:
                on_event(event, n)
            continue
        return msg


def shutdown() -> None:
    """Stop the idle workers (they also end when the parent exits: stdin closes)."""
    with _lock:
        while _idle:
            _idle.pop().kill()


def _reports(fn: Callable) -> bool:
    """True when ``fn`` takes a ``report`` keyword (progress events)."""
    try:
        return "report" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def _serve() -> None:
    """Child side: run requests from stdin until it closes."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from native libraries must not corrupt the message stream
    def send(msg: tuple) -> None:
        pickle.dump(msg, out)
        out.flush()

    while True:
        try:
            target, args = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        module, name = target.split(":")
        try:
            fn = getattr(importlib.import_module(module), name)
            kw = {"report": lambda event, n: send(("event", event, n))} if _reports(fn) else {}
            send(("ok", fn(*args, **kw)))
        except Exception as exc:  # sent back and re-raised by the parent
            try:
                send(("error", exc))
            except Exception:  # an exception that does not pickle
                send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


if __name__ == "__main__":
    _serve()
