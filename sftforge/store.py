"""LanceDB storage: one database, one table per stage output, idempotent upserts on the id.

Tasks receive the database URI (a string), never a connection: connections are opened here,
once per process, so Prefect can hash task inputs and ship tasks to other workers.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import lancedb
import polars as pl
import pyarrow as pa
from filelock import FileLock

from sftforge.schemas import TABLES, key_of, schema_of

# LanceDB commits are optimistic; serialising writes inside one process avoids needless
# commit-conflict retries when several threads finish at once.
_WRITE_LOCK = threading.Lock()


def _process_lock(db_uri: str) -> AbstractContextManager[object]:
    """A lock shared by every process writing the local database at ``db_uri`` (Dask workers
    of one build): a merge_insert that loses a commit race may otherwise fail or lose rows.
    Object stores (``s3://``...) rely on Lance's own commit conflict handling."""
    if "://" in db_uri:
        return nullcontext()
    path = Path(db_uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path.with_name(path.name + ".write.lock")))


@lru_cache(maxsize=16)
def connect(db_uri: str) -> lancedb.DBConnection:
    """Open (and cache) the LanceDB database at ``db_uri``."""
    return lancedb.connect(db_uri)


def table_exists(db_uri: str, name: str) -> bool:
    """True when table ``name`` exists in the database."""
    return name in list_tables(db_uri)


def list_tables(db_uri: str) -> list[str]:
    """Every table name, following LanceDB's pagination."""
    db, names, token = connect(db_uri), [], None
    while True:
        page = db.list_tables(page_token=token, limit=1000)
        names.extend(page.tables)
        token = page.page_token
        if not token:
            return names


def open_table(db_uri: str, name: str, schema: pa.Schema | None = None) -> Any:
    """Open table ``name``, creating it empty with its schema when it does not exist yet."""
    db = connect(db_uri)
    if table_exists(db_uri, name):
        return _add_missing_columns(db.open_table(name), schema or schema_of(name))
    return db.create_table(name, schema=schema or schema_of(name), exist_ok=True)


def _add_missing_columns(tbl: Any, schema: pa.Schema) -> Any:
    """``tbl`` with the columns a newer schema declares added as nulls, so a database written
    by an older version keeps working (e.g. ``documents.hidden_spans``)."""
    have = set(tbl.schema.names)
    missing = [f for f in schema if f.name not in have]
    if missing:
        tbl.add_columns(missing)
    return tbl


def _current(db_uri: str, name: str) -> Any:
    """Open existing table ``name`` for a read, first adding the columns its schema gained since
    the database was written: a query naming one must not fail on an older database."""
    tbl = connect(db_uri).open_table(name)
    declared = TABLES.get(name)  # tables named at run time (embeddings_<model>) keep theirs
    if declared is None or set(declared[1].names) <= set(tbl.schema.names):
        return tbl
    with _WRITE_LOCK:
        return open_table(db_uri, name)


def _to_arrow(rows: Iterable[dict[str, Any]] | pa.Table, schema: pa.Schema) -> pa.Table:
    if isinstance(rows, pa.Table):
        return rows.select(schema.names).cast(schema)
    rows = list(rows)
    cols = {name: [r.get(name) for r in rows] for name in schema.names}
    return pa.table(cols, schema=schema)


def upsert(
    db_uri: str,
    name: str,
    rows: Iterable[dict[str, Any]] | pa.Table,
    key: str | None = None,
    schema: pa.Schema | None = None,
) -> int:
    """Insert or update ``rows`` in table ``name`` by its id column; returns rows written."""
    schema = schema or schema_of(name)
    data = _to_arrow(rows, schema)
    if data.num_rows == 0:
        return 0
    key = key or key_of(name)
    with _WRITE_LOCK, _process_lock(db_uri):
        tbl = open_table(db_uri, name, schema)
        (
            tbl.merge_insert(key)
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )
    return data.num_rows


def read(
    db_uri: str,
    name: str,
    where: str | None = None,
    columns: list[str] | None = None,
) -> pl.DataFrame:
    """Rows of table ``name`` as a polars frame (empty, with the schema, if it does not exist)."""
    if not table_exists(db_uri, name):
        empty = schema_of(name).empty_table()
        frame = pl.from_arrow(empty)
        return frame.select(columns) if columns else frame
    tbl = _current(db_uri, name)
    if where is None and columns is None:
        return pl.from_arrow(tbl.to_arrow())
    query = tbl.search().limit(None)
    if where:
        query = query.where(where)
    if columns:
        query = query.select(columns)
    return pl.from_arrow(query.to_arrow())


def delete(db_uri: str, name: str, where: str) -> None:
    """Delete rows of ``name`` matching the SQL predicate ``where`` (no-op if no table)."""
    if not table_exists(db_uri, name):
        return
    tbl = _current(db_uri, name)
    with _WRITE_LOCK, _process_lock(db_uri):
        tbl.delete(where)


def count(db_uri: str, name: str, where: str | None = None) -> int:
    """Number of rows in ``name`` (0 if it does not exist)."""
    if not table_exists(db_uri, name):
        return 0
    return _current(db_uri, name).count_rows(where)


def sql_in(column: str, values: Iterable[str]) -> str:
    """SQL predicate ``column IN (...)`` with quoted string values."""
    quoted = ",".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})" if quoted else "false"


def versions(db_uri: str) -> dict[str, int]:
    """Current version of every table, recorded in each release."""
    db = connect(db_uri)
    return {n: db.open_table(n).version for n in list_tables(db_uri)}
