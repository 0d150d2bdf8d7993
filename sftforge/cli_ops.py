"""``sftforge export --release`` (re-export from tagged tables), ``sftforge diff vA vB`` and the
``sftforge build --dry-run`` printout.

Registered on the main app by ``sftforge/cli.py`` (``register(app)``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
OUT_HELP = "Output folder holding releases/ (as given to sftforge build --out)"
HOME_HELP = "Data home (default $SFTFORGE_HOME or .sftforge)"


def export(
    release: str = typer.Option(..., "--release", help="Release name or number (v0003, 3)"),
    out: Optional[Path] = typer.Option(None, "--out", help="Where to write (default: "
                                       "<--from>/reexports/<version>, outside releases/)"),
    releases_from: Path = typer.Option(Path("sftforge-out"), "--from", help=OUT_HELP),
    home: Optional[Path] = typer.Option(None, help=HOME_HELP),
) -> None:
    """Write a release's trainer files again from the table versions it was built from."""
    from sftforge.cli import _prepare_env

    _prepare_env(home)
    from sftforge.release.diff import resolve_release
    from sftforge.release.snapshot import ReleaseNotTagged
    from sftforge.settings import Settings
    from tasks.reexport import reexport

    try:
        release_dir = resolve_release(releases_from.resolve() / "releases", release)
        target = out or releases_from.resolve() / "reexports" / release_dir.name
        stats = reexport(Settings().db_uri, release_dir, target)
    except (FileNotFoundError, ValueError, ReleaseNotTagged) as exc:
        console.print(f"[red]error: {exc}[/red]")
        raise typer.Exit(2)
    differ = [n for n, same in stats["files_compared"].items() if not same]
    console.print(f"re-exported {release_dir.name}: {stats['samples']} samples, "
                  f"{len(stats['files'])} trainer files -> {target}")
    if differ:
        console.print(f"[red]differs from the release: {', '.join(differ)}[/red]")
        raise typer.Exit(1)
    if stats["files_compared"]:
        console.print("[green]every file is byte-identical to the release[/green]")


def diff(
    old: str = typer.Argument(..., help="Older release (name or number)"),
    new: str = typer.Argument(..., help="Newer release (name or number)"),
    out: Path = typer.Option(Path("sftforge-out"), "--out", help=OUT_HELP),
    ids: bool = typer.Option(False, "--ids", help="Also list the sample ids"),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON"),
) -> None:
    """Samples added, removed and changed between two releases, by document."""
    from sftforge.release.diff import diff_lines, diff_releases, resolve_release

    root = out.resolve() / "releases"
    try:
        result = diff_releases(resolve_release(root, old), resolve_release(root, new))
    except FileNotFoundError as exc:
        console.print(f"[red]error: {exc}[/red]")
        raise typer.Exit(2)
    if not ids:
        result = {k: v for k, v in result.items() if not k.endswith("_ids")}
    if as_json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return
    lines = diff_lines(result)
    for kind in ("added", "removed", "changed"):
        lines += [f"{kind}: {sid}" for sid in result.get(f"{kind}_ids", [])]
    sys.stdout.write("\n".join(lines).rstrip() + "\n")


def print_dry_run(estimate: dict[str, Any]) -> None:
    """The dry run's table: pending LLM calls per stage, estimated tokens and cost."""
    console.print(f"dry run: ingest and chunking ran ({', '.join(estimate['ran'])}) so the "
                  f"pending work is known; no LLM request was sent. {estimate['documents']} "
                  "documents.")
    table = Table(title="LLM calls this build would make")
    for col in ("stage", "model", "pending", "predicted", "requests", "prompt tok",
                "completion tok", "cost"):
        table.add_column(col, justify="left" if col in ("stage", "model") else "right")
    for r in estimate["stages"]:
        cost = "unpriced" if r["cost_usd"] is None else f"${r['cost_usd']:.4f}"
        table.add_row(r["stage"], r["model"], str(r["pending"]), str(r["predicted"]),
                      str(r["requests"]), str(r["prompt_tokens"]),
                      f"{r['completion_tokens']} ({r['completion_basis']})", cost)
    console.print(table)
    total = "unpriced" if estimate["cost_usd"] is None else f"${estimate['cost_usd']:.4f}"
    console.print(f"total: {estimate['requests']} requests, {estimate['prompt_tokens']} prompt + "
                  f"{estimate['completion_tokens']} completion tokens, estimated cost {total}"
                  + (f" (budget ${estimate['budget_usd']:g})" if estimate["budget_usd"] else ""))
    console.print("pending = inputs that exist now; predicted = rows an earlier stage of this "
                  "build will create (judge: an upper bound, clean may drop samples first); "
                  "retries and re-asks are not counted.")
    sys.stdout.write(json.dumps(estimate, ensure_ascii=False) + "\n")


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``diff`` to the main ``sftforge`` command."""
    app.command("export")(export)
    app.command("diff")(diff)
