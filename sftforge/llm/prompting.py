"""Jinja2 prompt files beside the code (``sftforge/llm/prompts/<name>.system.j2`` / ``.user.j2``).

A prompt's sha256 goes into its stage fingerprint, so editing a prompt invalidates exactly the
results that depended on it (Prefect's TASK_SOURCE would not see the file change).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from sftforge.ids import sha256_text

PROMPT_DIR = Path(__file__).parent / "prompts"

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(PROMPT_DIR)),
    undefined=jinja2.StrictUndefined,  # a missing variable is a bug, not an empty string
    keep_trailing_newline=False,
    autoescape=False,
)


@lru_cache(maxsize=32)
def prompt_sha(name: str) -> str:
    """Hash of both files of prompt ``name`` (system and user template)."""
    parts = [(PROMPT_DIR / f"{name}.{role}.j2").read_text("utf-8") for role in ("system", "user")]
    return sha256_text("\n---\n".join(parts))[:16]


def render(name: str, **context: Any) -> list[dict[str, str]]:
    """Chat messages (system + user) of prompt ``name`` rendered with ``context``."""
    system = _ENV.get_template(f"{name}.system.j2").render(**context).strip()
    user = _ENV.get_template(f"{name}.user.j2").render(**context).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
