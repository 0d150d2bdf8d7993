"""The folders a build writes: the data home (private) and the output folder (checked first).

- :func:`secure_home`: the data home holds document text, LLM requests and replies and the
  request cache; it is created ``0700`` (and tightened to it when it is ours and looser), so
  every file inside is out of other users' reach whatever its own mode.
- :func:`check_output`: the output folder must be writable before the first LLM request (a
  build that finds out after an hour of generation loses the hour). It is created if missing
  and marked (``sftforge.discovery.MARKER``) so it is never read back as input.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from sftforge.discovery import mark_output

HOME_MODE = 0o700


class OutputNotWritable(Exception):
    """The output folder cannot be created or written."""


def secure_home(home: Path) -> Path:
    """Create the data home ``0700`` (tighten an existing one we own); returns it."""
    home = Path(home).expanduser()
    home.mkdir(mode=HOME_MODE, parents=True, exist_ok=True)
    st = home.stat()
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & 0o077:
        home.chmod(HOME_MODE)
    mark_output(home)
    return home


def check_output(out_dir: Path) -> Path:
    """Prove ``out_dir/releases`` writable (``out_dir`` itself while no release exists: a
    build that publishes nothing leaves no ``releases`` folder); raises
    :class:`OutputNotWritable` with what to do. Returns the releases folder."""
    releases = Path(out_dir).expanduser() / "releases"
    try:
        mark_output(Path(out_dir).expanduser())
        probe = releases if releases.is_dir() else releases.parent
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OutputNotWritable(
            f"cannot write the release to {out_dir}: {exc.strerror or exc}; pass a writable "
            "folder with --out (checked before any LLM request)") from exc
    return releases
