"""``sftforge watch``: the small long-running command behind the on-arrival deployment."""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def watch_inbox(
    inbox: Path = typer.Argument(..., help="The folder new documents are copied into"),
    recipe: str = typer.Option("web-security", help="Recipe whose on-arrival deployment runs"),
    settle: float = typer.Option(30.0, help="Seconds a document must stay unchanged"),
    poll: float = typer.Option(2.0, help="Seconds between looks at the inbox"),
) -> None:
    """Emit a Prefect event each time new or changed documents settle in INBOX.

    The ``<recipe>-on-arrival`` deployment (deployments/serve.py or prefect.yaml) has a trigger
    on that event and builds the inbox. Needs PREFECT_API_URL pointing at the server.
    """
    from sftforge.watch import watch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        watch(inbox, recipe, settle_s=settle, poll_s=poll)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    """Add ``watch`` to the ``sftforge`` command."""
    app.command(name="watch")(watch_inbox)
