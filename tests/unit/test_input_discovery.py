"""Which files a build and the inbox watcher take: no symlink out of the input folder, no
output folder, data home or dot-folder, no file still being copied; on-arrival paths only inside
the inbox root; the data home private; an unwritable output found before any LLM work."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from flows.build_dataset import discover
from sftforge.discovery import mark_output
from sftforge.folders import OutputNotWritable, check_output, secure_home
from sftforge.watch import InboxRefused, check_inbox, snapshot


def _names(paths: list[str], root: Path) -> list[str]:
    return sorted(Path(p).relative_to(root).as_posix() for p in paths)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """An input folder with a document, a secret outside it and links to that secret."""
    secret = tmp_path / "private"
    secret.mkdir()
    (secret / "passwords.txt").write_text("root password hunter2\n", "utf-8")
    (secret / "notes.md").write_text("# private\n", "utf-8")
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "paper.md").write_text("# paper\n", "utf-8")
    (root / "sub" / "论文.txt").write_text("正文\n", "utf-8")
    os.symlink(secret / "passwords.txt", root / "leak.txt")
    os.symlink(secret, root / "linked-folder")
    os.symlink(root / "paper.md", root / "alias.md")  # inside: taken where it is
    return root


def test_symlinks_out_of_the_input_folder_are_skipped_and_named(
        corpus: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sftforge"):
        files = discover(str(corpus))
    assert _names(files, corpus) == ["paper.md", "sub/论文.txt"]
    log = caplog.text
    assert "leak.txt (symlink leads out of the input folder)" in log
    assert "linked-folder (symlinked folder leads out of the input folder" in log


def test_output_home_and_dot_folders_are_never_ingested(corpus: Path) -> None:
    out, home = corpus / "sftforge-out", corpus / "data"
    for folder in (out / "releases" / "v0001-aaaa", home, corpus / ".git", corpus / ".sftforge"):
        folder.mkdir(parents=True)
    (out / "releases" / "v0001-aaaa" / "README.md").write_text("# card\n", "utf-8")
    (home / "notes.md").write_text("cached\n", "utf-8")
    (corpus / ".git" / "README.md").write_text("x\n", "utf-8")
    (corpus / ".sftforge" / "x.md").write_text("x\n", "utf-8")
    (corpus / ".hidden.md").write_text("x\n", "utf-8")
    files = discover(str(corpus), exclude=(str(out), str(home)))
    assert _names(files, corpus) == ["paper.md", "sub/论文.txt"]


def test_a_marked_output_folder_is_skipped_without_being_named(corpus: Path) -> None:
    # `sftforge watch` does not know the build's --out: the marker keeps the release out.
    out = corpus / "release-copy"
    mark_output(out)
    (out / "samples.md").write_text("x\n", "utf-8")
    assert _names(discover(str(corpus)), corpus) == ["paper.md", "sub/论文.txt"]
    assert _names(list(snapshot(corpus)), corpus) == ["paper.md", "sub/论文.txt"]


def test_files_still_being_written_are_left_for_the_next_build(corpus: Path) -> None:
    old = 1_000_000_000
    for p in (corpus / "paper.md", corpus / "sub" / "论文.txt"):
        os.utime(p, (old, old))
    (corpus / "copying.md").write_text("half a docu", "utf-8")  # modified just now
    assert _names(discover(str(corpus), settle_s=30), corpus) == ["paper.md", "sub/论文.txt"]
    assert "copying.md" in _names(discover(str(corpus)), corpus)


def test_the_watcher_does_not_follow_symlinks_out_of_the_inbox(corpus: Path) -> None:
    assert _names(list(snapshot(corpus)), corpus) == ["paper.md", "sub/论文.txt"]


def test_on_arrival_paths_must_lie_inside_the_inbox_root(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "batch").mkdir(parents=True)
    check_inbox(str(inbox), inbox)
    check_inbox(str(inbox / "batch"), inbox)
    for bad in (tmp_path, Path("/etc"), inbox / ".." / "private"):
        with pytest.raises(InboxRefused, match="outside the inbox root"):
            check_inbox(str(bad), inbox)
    os.symlink(tmp_path, inbox / "escape")
    with pytest.raises(InboxRefused):
        check_inbox(str(inbox / "escape"), inbox)
    with pytest.raises(InboxRefused, match="SFTFORGE_INBOX_ROOT"):
        check_inbox(str(inbox), None)


def test_the_data_home_is_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        home = secure_home(tmp_path / "home")
        loose = tmp_path / "loose"
        loose.mkdir(mode=0o755)
        secure_home(loose)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700


def test_an_unwritable_output_is_found_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", "utf-8")
    with pytest.raises(OutputNotWritable, match="--out"):
        check_output(blocker / "out")  # unwritable for every user, root included
    releases = check_output(tmp_path / "fine")
    # Proven writable without being created: a build that publishes nothing leaves none.
    assert releases == tmp_path / "fine" / "releases" and (tmp_path / "fine").is_dir()
    assert not releases.exists()


def test_build_refuses_an_unwritable_out_before_starting(corpus: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sftforge.cli import app

    blocker = tmp_path / "a-file"
    blocker.write_text("", "utf-8")
    result = CliRunner().invoke(app, ["build", str(corpus), "--out", str(blocker / "out"),
                                      "--home", str(tmp_path / "home")], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert "cannot write the release to" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_output_is_found_before_any_work(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(OutputNotWritable, match="--out"):
        check_output(locked / "out")
