"""Content-hash ids and stage fingerprints.

Ids are content hashes so a re-run updates rows instead of duplicating them:
``doc_id = sha256(file bytes)[:16]``; a child id hashes (parent id, stage fingerprint, index).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sftforge import __version__

ID_LEN = 16


def sha256_bytes(data: bytes) -> str:
    """Full hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """Full hex sha256 of ``text`` encoded as UTF-8."""
    return sha256_bytes(text.encode("utf-8"))


def doc_id_for_file(path: Path) -> str:
    """``doc_id`` of a file: the first 16 hex digits of the sha256 of its bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:ID_LEN]


def child_id(parent_id: str, fingerprint: str, index: int | str) -> str:
    """Id of the ``index``-th item a stage with ``fingerprint`` derives from ``parent_id``."""
    return sha256_text(f"{parent_id}|{fingerprint}|{index}")[:ID_LEN]


def canonical_json(obj: Any) -> str:
    """Stable JSON text (sorted keys, no spaces) for hashing."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def fingerprint(stage: str, **parts: Any) -> str:
    """Stage fingerprint: hash of the stage name, code version and every result-changing part.

    Pass prompt hashes, model names and parameters as ``parts``; operational settings
    (concurrency, batch size, timeouts) must stay out so they never invalidate results.
    """
    payload = {"stage": stage, "code": __version__, **parts}
    return sha256_text(canonical_json(payload))[:ID_LEN]
