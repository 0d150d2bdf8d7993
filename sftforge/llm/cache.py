"""On-disk request cache and request log of the LLM gateway (one sqlite file per cache dir).

Tables in ``<cache_dir>/llm_cache.sqlite``:

- ``responses``: key (sha256 of the canonical request) -> validated value, reasoning, raw reply.
  Only successful, validated results are stored, so failures are retried on the next run.
- ``requests``: one row per HTTP request actually sent (``kind='http'``, with its status and
  tokens) and one per cache hit (``kind='hit'``), tagged with the build ``run_id`` and ``stage``,
  so a run's cost can be summed across threads and processes (:func:`run_usage`).

A connection is opened per call: sqlite connections must not cross threads, and the gateway is
used from Prefect worker threads and processes at once. WAL mode lets readers and one writer
work concurrently.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sftforge.ids import canonical_json, sha256_text

DB_NAME = "llm_cache.sqlite"

_DDL = (
    """CREATE TABLE IF NOT EXISTS responses (
        key TEXT PRIMARY KEY, value TEXT NOT NULL, reasoning TEXT NOT NULL, raw TEXT NOT NULL,
        model TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, created_at TEXT)""",
    """CREATE TABLE IF NOT EXISTS requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, stage TEXT, ts TEXT, kind TEXT,
        item_id TEXT, status INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER)""",
    "CREATE INDEX IF NOT EXISTS requests_run ON requests (run_id)",
)


def request_key(request: dict[str, Any]) -> str:
    """Cache key of a chat request: sha256 of the canonical JSON of the result-changing fields.

    ``base_url`` and the API key are left out on purpose: the embedded server's port changes
    every run and a rotated key must not invalidate paid-for answers.
    """
    fields = ("model", "messages", "temperature", "max_tokens", "response_format")
    keyed = {f: request.get(f) for f in fields}
    # Only when asked (the verifier's yes/no): older keys, which never had them, stay valid.
    keyed.update({f: request[f] for f in ("logprobs", "top_logprobs") if f in request})
    return sha256_text(canonical_json(keyed))


@dataclass
class CachedReply:
    """A cached successful answer."""

    value: dict[str, Any]
    reasoning: str
    raw: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class RequestCache:
    """Request cache and request log stored in ``cache_dir/llm_cache.sqlite``."""

    def __init__(self, cache_dir: Path) -> None:
        self.path = Path(cache_dir) / DB_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn, conn:
            conn.execute("PRAGMA journal_mode=WAL")
            for ddl in _DDL:
                conn.execute(ddl)
            _add_model_column(conn)

    def _connect(self) -> sqlite3.Connection:
        # A long busy timeout: several processes of one build may write at the same moment.
        return sqlite3.connect(self.path, timeout=60)

    def get(self, key: str) -> CachedReply | None:
        """The cached reply for ``key``, or None."""
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT value, reasoning, raw FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return CachedReply(value=json.loads(row[0]), reasoning=row[1], raw=row[2])

    def put(self, key: str, reply: CachedReply, model: str, tokens: tuple[int, int]) -> None:
        """Store a validated reply under ``key`` (replacing any older one)."""
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, json.dumps(reply.value, ensure_ascii=False), reply.reasoning, reply.raw,
                 model, tokens[0], tokens[1], _now()),
            )

    def log(
        self,
        run_id: str,
        stage: str,
        kind: str,
        item_id: str,
        status: int = 0,
        tokens: tuple[int, int] = (0, 0),
        model: str = "",
    ) -> None:
        """Append one row to the request log (``kind`` is ``http`` or ``hit``)."""
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT INTO requests (run_id, stage, ts, kind, item_id, status, prompt_tokens,"
                " completion_tokens, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, stage, _now(), kind, item_id, status, tokens[0], tokens[1], model),
            )


def _add_model_column(conn: sqlite3.Connection) -> None:
    """Request logs written before costs were priced per model lack ``model``: add it."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(requests)")}
    if "model" not in columns:
        conn.execute("ALTER TABLE requests ADD COLUMN model TEXT")


def stage_usage(cache_dir: Path, run_id: str) -> list[dict[str, Any]]:
    """LLM usage of one build run per (stage, model): ``stage``, ``model``, ``requests`` (HTTP
    requests sent), ``cache_hits``, ``prompt_tokens``, ``completion_tokens``."""
    path = Path(cache_dir) / DB_NAME
    if not path.exists():
        return []
    RequestCache(Path(cache_dir))  # older logs get the model column first
    with closing(sqlite3.connect(path, timeout=60)) as conn:
        rows = conn.execute(
            "SELECT stage, COALESCE(model, ''), SUM(kind = 'http'), SUM(kind = 'hit'),"
            " COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0)"
            " FROM requests WHERE run_id = ? GROUP BY stage, model ORDER BY stage, model",
            (run_id,)).fetchall()
    return [{"stage": r[0], "model": r[1], "requests": int(r[2] or 0), "cache_hits": int(r[3] or 0),
             "prompt_tokens": int(r[4]), "completion_tokens": int(r[5])} for r in rows]


def run_usage(cache_dir: Path, run_id: str) -> dict[str, int]:
    """LLM usage of one build run, summed over every gateway that logged under ``run_id``.

    Returns ``{"llm_requests", "cache_hits", "prompt_tokens", "completion_tokens"}``;
    ``llm_requests`` counts HTTP requests actually sent, retries and re-asks included.
    """
    usage = {"llm_requests": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0}
    path = Path(cache_dir) / DB_NAME
    if not path.exists():
        return usage
    with closing(sqlite3.connect(path, timeout=60)) as conn:
        try:
            rows = conn.execute(
                "SELECT kind, COUNT(*), COALESCE(SUM(prompt_tokens), 0),"
                " COALESCE(SUM(completion_tokens), 0) FROM requests WHERE run_id = ?"
                " GROUP BY kind",
                (run_id,),
            ).fetchall()
        except sqlite3.OperationalError:  # file exists but the gateway never created tables
            return usage
    for kind, n, prompt, completion in rows:
        if kind == "hit":
            usage["cache_hits"] += n
        else:
            usage["llm_requests"] += n
            usage["prompt_tokens"] += prompt
            usage["completion_tokens"] += completion
    return usage
