"""The LanceDB tables as a release saw them: tagged table versions copied into a scratch database.

Every release tags the version of every table it read with its name (``tasks/card.py``
``tag_tables``). :func:`checkout_release` opens each wanted table on its own connection (a
checkout is in place, so the process's shared connection is never touched), checks out the
tag (LanceDB ``tbl.checkout(tag)``), and writes its rows (optionally filtered) into a database
at ``target_uri``, so the ordinary readers (``sftforge.store``) work on the old state unchanged.
"""

from __future__ import annotations

import lancedb

from sftforge import store


class ReleaseNotTagged(LookupError):
    """A release whose tables carry no tag of its name (built before tags, or deleted)."""


def checkout_release(db_uri: str, tag: str, target_uri: str, tables: tuple[str, ...],
                     where: dict[str, str] | None = None) -> dict[str, int]:
    """Copy ``tables`` at tag ``tag`` into ``target_uri``; returns table -> tagged version.

    ``where`` filters rows per table (SQL predicate). A table that did not exist when the
    release was built (no tag, and absent from the release's ``table_versions``) is skipped
    by the caller's choice of ``tables``; a wanted table without the tag is an error.
    """
    source, target = lancedb.connect(db_uri), lancedb.connect(target_uri)
    versions = {}
    for name in tables:
        if not store.table_exists(db_uri, name):
            raise ReleaseNotTagged(f"table {name!r} does not exist in {db_uri}")
        tbl = source.open_table(name)
        if tag not in tbl.tags.list():
            raise ReleaseNotTagged(
                f"table {name!r} has no tag {tag!r} in {db_uri}: the release was built before "
                "releases tagged their tables, or with another data home (--home)")
        tbl.checkout(tag)
        query = tbl.search().limit(None)
        if where and name in where:
            query = query.where(where[name])
        target.create_table(name, query.to_arrow())  # a fresh database: never overwrites
        versions[name] = tbl.version
    return versions
