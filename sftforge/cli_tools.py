"""``sftforge check`` and ``sftforge convert``: dataset health check and format converter.

Scripting contract: ``sftforge check FILE... --json`` prints {files: [report], leaks, errors,
verdict: {ok, summary}} and exits 1 when a row would be dropped or misread, a row leaks across
train/val/test files, or a file cannot be read (0 otherwise); ``sftforge convert IN --to FMT
[--out OUT] --json`` prints {out, from, to, rows_in, rows_out, skipped, dataset_info}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from sftforge.formats.convert import convert_file
from sftforge.formats.health import DEFAULT_CUTOFF, Scanned, leaks, scan_file, verdict
from sftforge.formats.spec import FORMATS, FormatError

console = Console(soft_wrap=True)  # paths and row lists stay on one line for grep
_SHOWN = 20  # findings printed per section; --json has them all

FORMAT_HELP = "Input format (detected when left out): " + ", ".join(FORMATS)
COLUMN_HELP = "Map a column: FORMAT_COLUMN=FILE_COLUMN, e.g. instruction=question (repeatable)"


def _columns(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        target, sep, source = pair.partition("=")
        if not (sep and target.strip() and source.strip()):
            raise typer.BadParameter(f"--column {pair!r}: expected FORMAT_COLUMN=FILE_COLUMN")
        out[target.strip()] = source.strip()
    return out


def _format(fmt: Optional[str]) -> Optional[str]:
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


def _section(title: str, items: list[str]) -> None:
    if not items:
        return
    console.print(f"  [bold]{title}[/bold] ({len(items)})")
    for line in items[:_SHOWN]:
        console.print(f"    {line}", markup=False, highlight=False)
    if len(items) > _SHOWN:
        console.print(f"    ... {len(items) - _SHOWN} more (--json lists all)")


def _print_report(r: dict[str, Any]) -> None:
    t = r["tokens"]
    console.print(f"[bold]{r['path']}[/bold]: {r['format']}, {r['rows']} rows"
                  + (f", split {r['split']}" if r["split"] else ""), highlight=False)
    _section("rows a trainer would drop or misread",
             [f"row {p['row']}: {p['problem']}" for p in r["problems"]])
    _section("exact duplicates", [f"row {d['row']} = row {d['same_as']}" for d in r["duplicates"]])
    _section("near duplicates", [f"row {d['row']} ~ row {d['same_as']}" for d in r["near_duplicates"]])
    console.print(f"  tokens: min {t['min']}, median {t['median']}, p95 {t['p95']}, "
                  f"max {t['max']}", highlight=False)
    _section(f"rows over cutoff {t.get('cutoff')}", [f"row {n}" for n in t["over_cutoff"]])
    _section("length outliers", [f"row {o['row']}: {o['tokens']} tokens" for o in t["outliers"]])
    console.print(f"  languages: {r['languages']}", highlight=False)
    _section("PII hits", [f"row {p['row']}: {p['kinds']}" for p in r["pii"]["rows"]])


def check(
    files: list[Path] = typer.Argument(..., help="Dataset files (JSON, JSONL, parquet, CSV)"),
    fmt: Optional[str] = typer.Option(None, "--format", help=FORMAT_HELP),
    column: Optional[list[str]] = typer.Option(None, "--column", help=COLUMN_HELP),
    cutoff: int = typer.Option(DEFAULT_CUTOFF, help="Token budget of a row (trainer cutoff_len)"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON report"),
) -> None:
    """Report what a trainer would drop or misread, duplicates, lengths, languages, PII and
    leakage between train/val/test files (told by their names). Exit 1 on drops or leakage."""
    fmt, columns = _format(fmt), _columns(column)
    scans: list[Scanned] = []
    errors: list[str] = []
    for path in files:
        try:
            scans.append(scan_file(path, fmt, columns, cutoff))
        except FormatError as e:
            errors.append(str(e))
    reports = [s.report for s in scans]
    leaked = leaks(scans)
    result = verdict(reports, leaked, errors)
    if as_json:
        typer.echo(json.dumps({"files": reports, "leaks": leaked, "errors": errors,
                               "verdict": result}, ensure_ascii=False, indent=2))
    else:
        for r in reports:
            _print_report(r)
        _section("leaked across splits", [
            f"{x['file']} row {x['row']} ({x['split']}) = {x['other_file']} row "
            f"{x['other_row']} ({x['other_split']})" for x in leaked])
        _section("unreadable files", errors)
        console.print(("[green]" if result["ok"] else "[red]") + result["summary"])
    raise typer.Exit(0 if result["ok"] else 1)


def convert(
    src: Path = typer.Argument(..., help="Input file (CSV, JSON, JSONL or parquet)"),
    to: str = typer.Option(..., "--to", help="Target format: " + ", ".join(FORMATS)),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (default IN.<to>.jsonl)"),
    fmt: Optional[str] = typer.Option(None, "--format", help=FORMAT_HELP),
    column: Optional[list[str]] = typer.Option(None, "--column", help=COLUMN_HELP),
    cot: str = typer.Option("keep", help="CoT of the final answer: keep (<think> block), "
                            "strip, or column (a 'cot' field)"),
    skip_bad: bool = typer.Option(False, help="Leave out rows that cannot be converted"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
) -> None:
    """Convert a dataset file to another trainer format and register it in dataset_info.json."""
    if _format(to) is None or cot not in ("keep", "strip", "column"):
        raise typer.BadParameter("--cot must be keep, strip or column")
    try:
        result = convert_file(src, to, out, _format(fmt), _columns(column), cot, skip_bad)  # type: ignore[arg-type]
    except FormatError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    console.print(f"{result['rows_out']} of {result['rows_in']} rows {result['from']} -> "
                  f"{result['to']}: {result['out']}", highlight=False)
    for s in result["skipped"]:
        console.print(f"  skipped row {s['row']}: {s['reason']}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``check`` and ``convert`` to the ``sftforge`` command."""
    app.command(name="check")(check)
    app.command(name="convert")(convert)
