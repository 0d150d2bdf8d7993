"""A database written by an older version: reads, counts and deletes that name a column the newer
schema added must work (the column reads as null), not fail with LanceDB's "No field named"."""

from __future__ import annotations

from pathlib import Path

import lancedb
import pyarrow as pa

from sftforge import store
from sftforge.schemas import schema_of


def _old_questions(db_uri: str) -> None:
    """A ``questions`` table as an older version wrote it: without the ``qtype`` column."""
    old = pa.schema([f for f in schema_of("questions") if f.name != "qtype"])
    rows = {name: [None] for name in old.names}
    rows.update(question_id=["q1"], chunk_id=["c1"], doc_id=["d1"], question=["什么是CSRF？"])
    lancedb.connect(db_uri).create_table("questions", pa.table(rows, schema=old))


def test_reading_a_new_column_of_an_old_table(tmp_path: Path) -> None:
    uri = str(tmp_path / "db")
    _old_questions(uri)
    frame = store.read(uri, "questions", columns=["question_id", "qtype"], where="qtype IS NULL")
    assert frame.to_dicts() == [{"question_id": "q1", "qtype": None}]
    assert store.count(uri, "questions", where="qtype IS NULL") == 1
    store.delete(uri, "questions", "qtype IS NULL AND question_id = 'q1'")
    assert store.count(uri, "questions") == 0
