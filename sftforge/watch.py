"""Watch an inbox folder and emit one Prefect event when new or changed documents settle.

``sftforge watch INBOX --recipe NAME`` polls the folder; a document counts once its size and
modification time have not changed for ``settle_s`` seconds (a copy in progress is not
finished). Everything that changed in one burst goes into one ``sftforge.inbox.settled``
event, so ten files copied at once start one build: the ``<recipe>-on-arrival`` deployment's
``DeploymentEventTrigger`` (deployments/definitions.py) matches the event's resource id and
passes the inbox path (resource label ``sftforge.inbox.path``) as the build's ``input_path``.

The inbox is walked as a build walks its input (``sftforge.discovery``): no symlink out of it,
no dot-folder, no sftforge output or data home inside it (a release written into the inbox
would otherwise look like new documents and re-trigger a build forever). Anyone who can send
an event to the Prefect server could name any path, so the on-arrival build accepts only paths
inside the configured inbox root (:func:`check_inbox`, ``SFTFORGE_INBOX_ROOT``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("sftforge")

INBOX_EVENT = "sftforge.inbox.settled"
PATH_LABEL = "sftforge.inbox.path"
Snapshot = dict[str, tuple[int, int]]  # path -> (size, mtime_ns)


def inbox_resource_id(recipe: str) -> str:
    """The event resource id the on-arrival deployment of ``recipe`` listens to."""
    return f"sftforge.inbox.{recipe}"


class InboxRefused(PermissionError):
    """An on-arrival build named a path outside the configured inbox root."""


def check_inbox(input_path: str, inbox_root: Path | None) -> None:
    """Raise :class:`InboxRefused` unless ``input_path`` (symlinks resolved) lies inside
    ``inbox_root``; an unset root refuses every event-named path."""
    if inbox_root is None:
        raise InboxRefused(f"on-arrival build of {input_path} refused: set SFTFORGE_INBOX_ROOT "
                           "to the folder `sftforge watch` watches")
    root, path = Path(inbox_root).expanduser().resolve(), Path(input_path).expanduser().resolve()
    if path != root and root not in path.parents:
        raise InboxRefused(f"on-arrival build of {input_path} refused: outside the inbox root "
                           f"{root} (SFTFORGE_INBOX_ROOT)")


def snapshot(inbox: Path) -> Snapshot:
    """Size and modification time of every document under ``inbox`` a build would take."""
    from sftforge.discovery import discover_files
    from tasks.ingest import supported  # the same file types a build ingests

    out: Snapshot = {}
    for p in discover_files(inbox, supported)[0]:
        try:
            st = p.stat()
            out[str(p)] = (st.st_size, st.st_mtime_ns)
        except OSError:
            continue  # removed while we looked: the next poll sees the truth
    return out


@dataclass
class InboxWatcher:
    """Which documents changed since the last event, once the inbox has been quiet long enough.

    Feed :meth:`poll` the current snapshot and a monotonic time; it returns the settled
    changed paths (to emit) or an empty list (nothing new, or still being written).
    """

    settle_s: float
    seen: Snapshot = field(default_factory=dict)  # as of the last event
    _last: Snapshot = field(default_factory=dict)
    _quiet_since: float = 0.0

    def poll(self, current: Snapshot, now: float) -> list[str]:
        """Changed paths once ``current`` has not changed for ``settle_s``; else []."""
        if current != self._last:
            self._last, self._quiet_since = current, now
            return []
        changed = sorted(p for p, sig in current.items() if self.seen.get(p) != sig)
        if not changed or now - self._quiet_since < self.settle_s:
            return []
        self.seen = dict(current)
        return changed


def emit_settled(inbox: Path, recipe: str, paths: list[str]) -> Any:
    """Send the ``sftforge.inbox.settled`` event for ``paths`` in ``inbox``; returns it."""
    from prefect.events import emit_event

    return emit_event(
        event=INBOX_EVENT,
        resource={"prefect.resource.id": inbox_resource_id(recipe),
                  "prefect.resource.name": f"inbox of {recipe}",
                  PATH_LABEL: str(inbox.resolve())},
        payload={"files": [Path(p).name for p in paths], "count": len(paths)})


def watch(inbox: Path, recipe: str, settle_s: float = 30.0, poll_s: float = 2.0,
          on_emit: Callable[[list[str]], None] | None = None, max_events: int = 0) -> None:
    """Poll ``inbox`` forever (or until ``max_events`` events) and emit settled changes.

    Documents already in the inbox at start are taken as seen: only new or changed ones
    start a build (a build is incremental, so nothing is lost by skipping them here).
    """
    if not inbox.is_dir():
        raise FileNotFoundError(f"inbox {inbox} is not a folder: create it or pass another path")
    watcher, sent = InboxWatcher(settle_s=settle_s, seen=snapshot(inbox)), 0
    while not max_events or sent < max_events:
        changed = watcher.poll(snapshot(inbox), time.monotonic())
        if changed:
            emit_settled(inbox, recipe, changed)
            log.info("inbox %s: %d document(s) settled, event %s sent", inbox, len(changed),
                     INBOX_EVENT)
            sent += 1
            if on_emit:
                on_emit(changed)
        time.sleep(poll_s)
