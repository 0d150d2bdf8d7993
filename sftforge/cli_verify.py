"""``sftforge verify FILE_OR_RELEASE [--out FILE.jsonl]``: audit a dataset against its sources.

Scripting contract: ``--out`` gets one JSON row per input row {id, verdict, reasons, one P(yes)
per check, method, label, kind}; ``--json`` prints {rows, kept, dropped, reasons, labeled}
(``labeled``: agreement, balanced accuracy, per-kind catch rates, or null). Exit 2 on an input
error (the message names the row and the field), 1 when some row could not be verified.
"""

from __future__ import annotations

import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True, soft_wrap=True)
ROLE = "judge"  # the verifier answers in the judge's seat (same endpoint settings)


@contextmanager
def verifier_endpoint(start: bool = True) -> Iterator[Any]:
    """The configured judge endpoint, or the embedded model started for this command (with
    ``start`` False it is not: for answers already in the request cache)."""
    from sftforge.llm.endpoints import LLMRuntime, api_key
    from sftforge.settings import ResolvedEndpoint, Settings

    runtime = LLMRuntime(Settings(), run_id=f"verify-{uuid.uuid4().hex[:8]}")
    try:
        specs = runtime.endpoints()
        if specs[ROLE].embedded and start:
            console.print("starting the embedded model (SFTFORGE_LLM_BASE_URL unset)")
            specs = runtime.ensure_started()
        yield ResolvedEndpoint(**specs[ROLE].model_dump(), api_key=api_key(ROLE))
    finally:
        runtime.close()


def read_input(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file, or of a release folder (passages from the data home's store)."""
    from sftforge.settings import Settings
    from sftforge.verifier.audit import read_jsonl_rows, read_release_rows

    if path.is_dir():
        return read_release_rows(path, Settings().db_uri)
    return read_jsonl_rows(path)


def print_report(results: list[dict[str, Any]], labeled: dict[str, Any] | None) -> None:
    """Verdict counts and reasons; with labels, agreement and the catch rate per kind."""
    kept = sum(r["verdict"] == "keep" for r in results)
    reasons = Counter(x for r in results for x in r["reasons"])
    console.print(f"{len(results)} rows: {kept} keep, {len(results) - kept} drop")
    if reasons:
        console.print("reasons: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()))
    if labeled is None:
        return
    table = Table(title="verdict vs label, per kind")
    for col, justify in (("kind", "left"), ("right / rows", "right"), ("rate", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for kind, k in sorted(labeled["kinds"].items()):
        table.add_row(kind, f"{k['caught']}/{k['total']}", f"{k['caught'] / k['total']:.0%}")
    console.print(table)
    console.print(f"labeled rows {labeled['rows']}: agreement {labeled['agreement']:.3f}, "
                  f"balanced accuracy {labeled['balanced_accuracy']:.3f} (drop recall "
                  f"{labeled['drop_recall']}, keep recall {labeled['keep_recall']})")


def register(app: typer.Typer) -> None:
    """Add ``verify`` to the ``sftforge`` app."""

    @app.command()
    def verify(
        path: Path = typer.Argument(..., help="A JSONL file (source|context, question|"
                                    "instruction, answer|output, optional pair_id|id, label, "
                                    "kind, citations) or a release folder"),
        out: Optional[Path] = typer.Option(None, "--out", help="Write one verdict row per "
                                           "input row here (JSONL)"),
        home: Optional[Path] = typer.Option(None, help="Data home (default $SFTFORGE_HOME or "
                                            ".sftforge): request cache, and the passages of a "
                                            "release"),
        as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON"),
    ) -> None:
        """Check every pair against its source with the verifier's checks and the rules."""
        from sftforge.cli import _prepare_env
        from sftforge.jsonl import dumps, write_jsonl
        from sftforge.verifier.audit import AuditInputError, agreement, audit
        from sftforge.verifier.run import verify_rows
        from sftforge.verifier.settings import VerifySettings

        _prepare_env(home)
        if not path.exists():
            console.print(f"[red]error: {path} does not exist[/red]")
            raise typer.Exit(2)
        try:
            rows = read_input(path)
        except AuditInputError as exc:
            console.print(f"[red]error: {exc}[/red]", markup=True, highlight=False)
            raise typer.Exit(2)
        settings = VerifySettings()
        with verifier_endpoint() as endpoint:
            console.print(f"verifying {len(rows)} rows with {endpoint.model} "
                          f"({len(settings.checks)} checks each)")
            results = audit(rows, lambda rs: verify_rows(rs, endpoint, settings.checks), settings)
        if out is not None:
            write_jsonl(out, results)
        labeled = agreement(results)
        if as_json:
            typer.echo(dumps({"rows": len(results),
                              "kept": sum(r["verdict"] == "keep" for r in results),
                              "dropped": sum(r["verdict"] == "drop" for r in results),
                              "reasons": dict(Counter(x for r in results for x in r["reasons"])),
                              "labeled": labeled}))
        else:
            print_report(results, labeled)
        if any(r.get("error") for r in results):
            raise typer.Exit(1)
