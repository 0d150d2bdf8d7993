"""The ``sftforge`` command: build a release, show status, run the demo.

Scripting contract: ``sftforge build PATH [--out DIR]`` writes ``DIR/releases/<version>/``;
``sftforge status --json`` prints {documents, samples, failures, quarantined}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="Turn your own documents into a supervised fine-tuning dataset.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)


CONFIG_HELP = ("Settings file (TOML); default $SFTFORGE_CONFIG, else "
               "~/.config/sftforge/sftforge.toml. Never read from the input folder")


def _prepare_env(home: Optional[Path], config: Optional[Path] = None) -> None:
    """Point sftforge and Prefect at the data home and the config file before either reads its
    settings."""
    if config is not None:
        if not config.is_file():
            console.print(f"[red]error: config file {escape(str(config))} not found[/red]")
            raise typer.Exit(2)
        os.environ["SFTFORGE_CONFIG"] = str(config.resolve())
    if home is not None:
        os.environ["SFTFORGE_HOME"] = str(home)
    data_home = Path(os.environ.get("SFTFORGE_HOME", ".sftforge")).expanduser().resolve()
    os.environ["SFTFORGE_HOME"] = str(data_home)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The temporary server's first start migrates its database; on a busy 2-core machine that
    # takes longer than Prefect's 20 s default.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    # Cached task results live beside the data they describe, so wiping the home wipes both.
    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(data_home / "prefect-results"))


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"release {escape(summary['version'])}")
    table.add_column("stage")
    table.add_column("items", justify="right")
    for key, value in summary["counts"].items():
        table.add_row(escape(key), str(value))
    console.print(table)
    for stage, reasons in summary["drop_reasons"].items():
        if reasons:
            console.print(f"dropped at {stage}: {escape(str(reasons))}")
    console.print(f"LLM requests this build: {summary['llm_requests']} "
                  f"(cache hits {summary['cache_hits']})")
    if summary.get("cost_usd") is not None:
        console.print(f"estimated LLM cost this build: ${summary['cost_usd']:.4f}")
    for q in summary["quarantined"]:
        console.print(f"[yellow]warning: quarantined {escape(q['path'])}: "
                      f"{escape(q['reason'])}[/yellow]")
    _print_verify_check(summary.get("verify_self_check"))
    _print_judge_check(summary.get("judge_self_check"))
    if "gate" in summary:
        console.print(f"release gate: {escape(summary['gate']['summary'])}")
    for warning in summary.get("split_warnings", []):
        console.print(f"[yellow]warning: {escape(warning)}[/yellow]", soft_wrap=True)
    if summary.get("republished"):
        console.print(f"[green]content unchanged: {escape(summary['release_dir'])} stays the "
                      "published release[/green]")
    else:
        console.print(f"[green]release written to {escape(summary['release_dir'])}[/green]")


def _print_verify_check(check: dict[str, Any] | None) -> None:
    """The verifier self-check: caught per group, a warning per missed target."""
    if not check or not check.get("pairs"):
        return
    rates = check["rates"]
    line = ("verifier self-check: " + ", ".join(
        f"{name.replace('_', ' ')} {'n/a' if rates[name] is None else f'{rates[name]:.0%}'}"
        for name in ("gross", "subtle", "faithful_dropped")) + f" of {check['pairs']} planted pairs")
    if check["missed_targets"]:
        console.print(f"[yellow]warning: {line}: misses {', '.join(check['missed_targets'])} "
                      "target (see the card's Verifier self-check)[/yellow]")
    else:
        console.print(line)


def _print_judge_check(check: dict[str, Any] | None) -> None:
    """The judge self-check line; a warning when the judge cannot be trusted."""
    if not check or not check["total"]:
        return
    line = f"judge self-check: caught {check['caught']}/{check['total']} planted errors"
    if check["trusted"]:
        console.print(line)
    else:
        console.print(f"[yellow]warning: {line}: too lenient to trust its scores; raise the "
                      "judge thresholds or use a stronger judge (SFTFORGE_JUDGE__MODEL)[/yellow]")


@app.command()
def build(
    path: Path = typer.Argument(..., help="A document or a folder of documents (PDF, MD, TXT)"),
    out: Path = typer.Option(Path("sftforge-out"), "--out", help="Output folder"),
    home: Optional[Path] = typer.Option(None, help="Data home (default $SFTFORGE_HOME or .sftforge)"),
    judge: bool = typer.Option(True, help="Check samples with an LLM (the verifier on the "
                               "embedded model, the judge elsewhere)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print pending LLM calls, tokens and "
                                 "cost per stage; send no request"),
    config: Optional[Path] = typer.Option(None, "--config", help=CONFIG_HELP),
) -> None:
    """Build a trainer-ready release from PATH into OUT/releases/<version>/."""
    _prepare_env(home, config)
    from flows.build_dataset import BuildParams, build_dataset
    from sftforge import progress
    from sftforge.llm.limits import MissingLimit
    from sftforge.folders import OutputNotWritable, check_output
    from sftforge.release.gate import GateFailed
    from sftforge.release.staging import EmptyRelease
    from sftforge.stage import BudgetExceeded, ErrorBudgetExceeded

    if not path.exists():
        console.print(f"[red]error: {escape(str(path))} does not exist; pass a document or a "
                      "folder[/red]")
        raise typer.Exit(2)
    try:
        check_output(out)
    except OutputNotWritable as exc:
        console.print(f"[red]error: {escape(str(exc))}[/red]")
        raise typer.Exit(2)
    params = BuildParams(input_path=str(path.resolve()), out_dir=str(out.resolve()),
                         **({} if judge else {"judge_enabled": False}))
    if dry_run:
        from flows.dry_run import dry_run as dry_run_flow
        from sftforge.cli_ops import print_dry_run

        try:
            print_dry_run(dry_run_flow(params))
        except EmptyRelease as exc:
            console.print(f"[red]nothing to estimate: {escape(str(exc))}[/red]")
            raise typer.Exit(2)
        return
    with _progress() as bar:
        progress.install(bar)
        try:
            summary = build_dataset(params)
        except (ErrorBudgetExceeded, GateFailed) as exc:
            console.print(f"[red]build failed: {escape(str(exc))}[/red]")
            raise typer.Exit(1)
        except BudgetExceeded as exc:
            console.print(f"[red]build stopped at the budget cap: {escape(str(exc))}[/red]")
            raise typer.Exit(3)
        except (MissingLimit, OutputNotWritable) as exc:
            console.print(f"[red]build not started: {escape(str(exc))}[/red]")
            raise typer.Exit(2)
        except EmptyRelease as exc:
            console.print(f"[red]nothing published: {escape(str(exc))}[/red]")
            raise typer.Exit(2)
        finally:
            progress.install(None)
    _print_summary(summary)


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON"),
    home: Optional[Path] = typer.Option(None, help="Data home (default $SFTFORGE_HOME or .sftforge)"),
) -> None:
    """Counts per table and failures by reason."""
    _prepare_env(home)
    from sftforge.status import collect_status

    info = collect_status()
    if as_json:
        sys.stdout.write(json.dumps(info, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title="sftforge status")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in info["tables"].items():
        table.add_row(escape(name), str(n))
    console.print(table)
    # Paths and reasons quote the documents: printed as text, never as rich markup.
    console.print(f"failures by reason: {escape(str(info['failures_by_reason'] or 'none'))}")
    for q in info["quarantined"]:
        console.print(f"quarantined {escape(str(q['path']))}: {escape(str(q['reason']))}")


@app.command()
def demo(
    out: Path = typer.Option(Path("sftforge-out"), "--out", help="Output folder"),
    home: Optional[Path] = typer.Option(None, help="Data home (default $SFTFORGE_HOME or .sftforge)"),
    config: Optional[Path] = typer.Option(None, "--config", help=CONFIG_HELP),
) -> None:
    """Write the bundled demo corpus (English + Chinese PDFs) and build a release from it."""
    _prepare_env(home, config)
    from sftforge.demo_corpus import write_demo_corpus
    from sftforge.settings import Settings

    if Settings().uses_embedded_llm:
        # Per-chunk generation (generation.mode auto -> per_chunk here) writes a chunk's pairs in
        # one request (the verifier then asks three one-token checks per pair), so more pairs
        # per chunk cost only their generated tokens: a pair per 60 passage tokens (3-6 per demo chunk) instead of per 150
        # (measured: 39 pairs, 19-20 exported, 7-8 minutes; see README, bench/cost_per_sample).
        per = os.environ.setdefault("SFTFORGE_QUESTIONS__TOKENS_PER_QUESTION", "60")
        most = os.environ.setdefault("SFTFORGE_QUESTIONS__MAX_PER_CHUNK", "6")
        console.print(f"embedded local model on CPU: a question-answer pair per {per} passage "
                      f"tokens (up to {most} per chunk), one generation request per chunk, "
                      "three one-token checks per pair")

    corpus = Path(os.environ["SFTFORGE_HOME"]) / "demo-corpus"
    files = write_demo_corpus(corpus)
    console.print(escape(f"demo corpus: {', '.join(p.name for p in files)} in {corpus}"))
    build(corpus, out, None, True, False, None)


from sftforge.cli_review import register as register_review  # noqa: E402  (review, releases)
from sftforge.cli_tools import register as register_tools  # noqa: E402  (check, convert)
from sftforge.cli_ops import register as register_ops  # noqa: E402  (export, diff)
from sftforge.cli_watch import register as register_watch  # noqa: E402  (watch)
from sftforge.cli_verify import register as register_verify  # noqa: E402  (verify)

register_tools(app)
register_review(app)
register_ops(app)
register_watch(app)
register_verify(app)


if __name__ == "__main__":
    app()
