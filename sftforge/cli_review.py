"""``sftforge review`` (web page, export, import) and ``sftforge releases``.

Registered on the main app by ``sftforge/cli.py`` (``register(app)``).
"""

from __future__ import annotations

import getpass
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
OUT_HELP = "Output folder holding releases/ (as given to sftforge build --out)"
HOME_HELP = "Data home (default $SFTFORGE_HOME or .sftforge)"


def _default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in containers without a passwd entry
        return "reviewer"


def review(
    release: Optional[str] = typer.Argument(None, help="Release name (default: releases/LATEST)"),
    out: Path = typer.Option(Path("sftforge-out"), "--out", help=OUT_HELP),
    home: Optional[Path] = typer.Option(None, help=HOME_HELP),
    reviewer: str = typer.Option(_default_reviewer(), help="Name stored with each verdict"),
    seed: int = typer.Option(0, help="Seed of the audit draw (fixed once drawn)"),
    fraction: float = typer.Option(0.01, help="Share of the release to audit"),
    minimum: int = typer.Option(100, help="Smallest audit (or the whole release if smaller)"),
    port: int = typer.Option(0, help="Port on 127.0.0.1 (0: a free one)"),
    export: Optional[Path] = typer.Option(None, "--export", help="Write the audit to a .jsonl/.csv file"),
    import_: Optional[Path] = typer.Option(None, "--import", help="Read verdicts from a .jsonl/.csv file"),
) -> None:
    """Audit a release: serve the review page, or export / import the audit as a file."""
    from sftforge.cli import _prepare_env

    _prepare_env(home)
    from sftforge.review import exchange, reviews
    from sftforge.review.audit import ReviewError, ensure_audit, resolve_release
    from sftforge.review.items import load_items
    from sftforge.settings import Settings
    from tasks.review import record_audit

    db_uri = Settings().db_uri
    try:
        release_dir = resolve_release(out.resolve(), release)
        ids = ensure_audit(db_uri, release_dir, seed, fraction, minimum)
        if import_ is not None:
            stats = exchange.import_audit(db_uri, import_, release_dir.name, set(ids), reviewer)
            console.print(f"imported {stats['recorded']} verdicts ({stats['unchanged']} unchanged)")
        elif export is not None:
            items = load_items(db_uri, release_dir, ids)
            n = exchange.export_audit(export, release_dir.name, items,
                                      reviews.latest(db_uri, release_dir.name))
            console.print(f"wrote {n} audit items to {export}")
            return
        else:
            _serve(db_uri, release_dir, load_items(db_uri, release_dir, ids), reviewer, port)
    except ReviewError as exc:
        console.print(f"[red]error: {exc}[/red]")
        raise typer.Exit(2)
    _print_audit(record_audit(db_uri, release_dir))


def _serve(db_uri: str, release_dir: Path, items: list[dict], reviewer: str, port: int) -> None:
    from sftforge.review.app import ReviewSession, create_app, running
    from sftforge.review.items import load_dropped

    session = ReviewSession(db_uri, release_dir.name, items, reviewer,
                            dropped=load_dropped(db_uri, release_dir))
    with running(create_app(session), port) as base:
        # The token is the only key to the page: printed once, to this terminal only.
        console.print(f"review {len(items)} items of {release_dir.name} at "
                      f"{base}/?token={session.token}\nCtrl+C when done")
        # SIGTERM (a service manager, `kill`) ends the session like Ctrl+C, so the audit
        # result still reaches the card.
        signal.signal(signal.SIGTERM, _stop)
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _print_audit(audit: dict[str, Any]) -> None:
    rate = audit["acceptance_rate"]
    console.print(f"audit of {audit['release']}: {audit['status']}; reviewed {audit['reviewed']}"
                  f" / {audit['sample_size']}, acceptance "
                  f"{'n/a' if rate is None else f'{rate:.1%}'} (threshold {audit['threshold']:.0%})")


def releases(
    out: Path = typer.Option(Path("sftforge-out"), "--out", help=OUT_HELP),
    home: Optional[Path] = typer.Option(None, help=HOME_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON"),
) -> None:
    """List releases with their sample counts and audit status."""
    from sftforge.cli import _prepare_env

    _prepare_env(home)
    from sftforge.settings import Settings
    from tasks.review import release_list

    rows = release_list(Settings().db_uri, out.resolve() / "releases")
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"releases in {out}")
    for col in ("version", "created", "samples", "audit", "acceptance", "documents", "splits",
                "requests", "cost", "diff (+/-/~)"):
        table.add_column(col)
    for r in rows:
        rate, diff, cost = r["acceptance_rate"], r.get("diff"), r.get("cost_usd")
        table.add_row(r["version"] + (" (LATEST)" if r["latest"] else ""), r["created_at"] or "",
                      str(r["samples"]), r["status"], "" if rate is None else f"{rate:.1%}",
                      str(r.get("documents") or ""),
                      " ".join(f"{k} {v}" for k, v in (r.get("splits") or {}).items()),
                      str(r.get("llm_requests") if r.get("llm_requests") is not None else ""),
                      "" if cost is None else f"${cost:.4f}",
                      f"+{diff['added']} -{diff['removed']} ~{diff['changed']}" if diff else "")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``review`` and ``releases`` to the main ``sftforge`` command."""
    app.command("review")(review)
    app.command("releases")(releases)
