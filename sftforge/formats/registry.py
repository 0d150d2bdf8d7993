"""LLaMA-Factory's ``dataset_info.json``: the entry that tells it how to read a file.

An optional column (``system``, ``history``) is declared only when the rows carry it, because
LLaMA-Factory indexes every declared column of every row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sftforge.jsonl import write_json

INFO_FILE = "dataset_info.json"
SHAREGPT_TAGS = {"role_tag": "from", "content_tag": "value", "user_tag": "human",
                 "assistant_tag": "gpt", "observation_tag": "observation",
                 "function_tag": "function_call", "system_tag": "system"}
MESSAGES_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "observation_tag": "tool_response",
                 "function_tag": "tool_call", "system_tag": "system"}


def dataset_entry(file_name: str, fmt: str, columns: set[str]) -> dict[str, Any] | None:
    """The entry for a ``fmt`` file whose rows have ``columns``; None when LLaMA-Factory cannot
    read the format (ms-swift preference rows: ``rejected_response``)."""
    optional = {c: c for c in ("system", "history") if c in columns}
    if fmt in ("alpaca", "dpo-alpaca"):
        cols = {"prompt": "instruction", "query": "input"}
        cols.update({"chosen": "chosen", "rejected": "rejected"} if fmt == "dpo-alpaca"
                    else {"response": "output"})
        entry: dict[str, Any] = {"file_name": file_name, "columns": {**cols, **optional}}
    elif fmt in ("sharegpt", "dpo-sharegpt"):
        cols = {"messages": "conversations", **optional}
        if fmt == "dpo-sharegpt":
            cols.update(chosen="chosen", rejected="rejected")
        entry = {"file_name": file_name, "formatting": "sharegpt", "columns": cols,
                 "tags": dict(SHAREGPT_TAGS)}
    elif fmt in ("messages", "swift") and "rejected_response" not in columns:
        # The system prompt is the leading system message, so no system column.
        entry = {"file_name": file_name, "formatting": "sharegpt",
                 "columns": {"messages": "messages"}, "tags": dict(MESSAGES_TAGS)}
    else:
        return None
    if fmt.startswith("dpo-"):
        entry["ranking"] = True
    return entry


def register(folder: Path, name: str, entry: dict[str, Any]) -> Path:
    """Add or replace ``name`` in ``folder/dataset_info.json``, keeping the other entries."""
    path = Path(folder) / INFO_FILE
    info = json.loads(path.read_text("utf-8")) if path.exists() else {}
    info[name] = entry
    write_json(path, info)
    return path
