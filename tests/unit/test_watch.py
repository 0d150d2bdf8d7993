"""The inbox watcher: when a burst of documents counts as settled, and what it looks at."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sftforge.cli import app
from sftforge.watch import InboxWatcher, snapshot


def test_watcher_waits_for_a_burst_to_settle_then_reports_it_once() -> None:
    watcher = InboxWatcher(settle_s=5, seen={"/in/old.pdf": (10, 1)})
    assert watcher.poll({"/in/old.pdf": (10, 1)}, now=0) == []  # first look: nothing new
    burst = {"/in/old.pdf": (10, 1), "/in/a.pdf": (5, 2)}
    assert watcher.poll(burst, now=1) == []  # just appeared
    burst = {**burst, "/in/b.md": (7, 3)}
    assert watcher.poll(burst, now=2) == []  # still arriving
    assert watcher.poll(burst, now=6) == []  # quiet for 4 s < 5 s
    assert watcher.poll(burst, now=7) == ["/in/a.pdf", "/in/b.md"]
    assert watcher.poll(burst, now=20) == []  # reported once
    changed = {**burst, "/in/a.pdf": (6, 9)}
    assert watcher.poll(changed, now=21) == [] and watcher.poll(changed, now=26) == ["/in/a.pdf"]


def test_snapshot_sees_supported_documents_only(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a.pdf", "sub/b.md", "c.txt", "d.docx", ".partial.pdf", "e.jpg"):
        (tmp_path / name).write_text("x", "utf-8")
    names = sorted(Path(p).relative_to(tmp_path).as_posix() for p in snapshot(tmp_path))
    assert names == ["a.pdf", "c.txt", "sub/b.md"]


def test_watch_command_names_a_missing_inbox(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["watch", str(tmp_path / "nope"), "--settle", "0"],
                                env={"COLUMNS": "300"})
    assert result.exit_code != 0
    assert "is not a folder" in result.output
