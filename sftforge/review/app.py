"""The review web page: a FastAPI app on 127.0.0.1, every route behind a token in the URL.

GET ``/?token=T`` serves one Jinja2 page with the audit items (and their latest verdicts);
POST ``/api/verdict?token=T`` stores one verdict in ``reviews`` and returns the progress.
GET ``/dropped?token=T`` lists the samples the build dropped, grouped by reason; POST
``/api/restore?token=T`` stores a reviewer's restore of one of them (applied next build).
Passages are HTML rendered on the server from hostile text (see ``sftforge.review.passage``).
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError

from sftforge.review import reviews

_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["html"]))


@dataclass
class ReviewSession:
    """What one served review works on: a release's audit items and who is reviewing."""

    db_uri: str
    release_version: str
    items: list[dict[str, Any]]
    reviewer: str
    dropped: list[dict[str, Any]] = field(default_factory=list)  # items.load_dropped groups
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))


class RestoreIn(BaseModel):
    """Body of POST /api/restore."""

    sample_id: str
    note: str = ""


class VerdictIn(BaseModel):
    """Body of POST /api/verdict."""

    sample_id: str
    verdict: str
    reason: str = ""
    note: str = ""
    question: str = ""
    answer: str = ""


def create_app(session: ReviewSession) -> FastAPI:
    """The review app for ``session``; requests without its token get 403."""

    def check_token(request: Request) -> None:
        given = request.query_params.get("token", "")
        if not secrets.compare_digest(given.encode(), session.token.encode()):
            raise HTTPException(403, "missing or wrong token: open the URL the command printed")

    app = FastAPI(title="sftforge review", dependencies=[Depends(check_token)],
                  docs_url=None, redoc_url=None, openapi_url=None)
    audit_ids = {item["sample_id"] for item in session.items}
    # sample_id -> the drop reason a restore overrides (restorable groups only)
    restorable = {it["sample_id"]: g["reason"] for g in session.dropped if g["restorable"]
                  for it in g.get("items", [])}

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        latest = reviews.latest(session.db_uri, session.release_version)
        return _TEMPLATES.get_template("review.html").render(
            release=session.release_version, reviewer=session.reviewer, items=session.items,
            verdicts={s: latest[s] for s in audit_ids if s in latest}, reasons=reviews.REASONS,
            dropped=sum(g["count"] for g in session.dropped))

    @app.get("/dropped", response_class=HTMLResponse)
    def dropped() -> str:
        latest = reviews.latest(session.db_uri)
        return _TEMPLATES.get_template("dropped.html").render(
            release=session.release_version, reviewer=session.reviewer, groups=session.dropped,
            restored={s for s in restorable if latest.get(s, {}).get("verdict") == "restore"})

    @app.post("/api/restore")
    def restore(body: RestoreIn) -> dict[str, Any]:
        if body.sample_id not in restorable:
            raise HTTPException(404, f"sample {body.sample_id} is not a restorable drop of "
                                     f"{session.release_version}")
        reviews.record(session.db_uri, [reviews.Verdict(
            release_version=session.release_version, reviewer=session.reviewer,
            sample_id=body.sample_id, verdict="restore", reason=restorable[body.sample_id],
            note=body.note)])
        return {"saved": "restore", "reason": restorable[body.sample_id]}

    @app.post("/api/verdict")
    def verdict(body: VerdictIn) -> dict[str, Any]:
        if body.sample_id not in audit_ids:
            raise HTTPException(404, f"sample {body.sample_id} is not in the audit of "
                                     f"{session.release_version}")
        try:
            v = reviews.Verdict(release_version=session.release_version,
                                reviewer=session.reviewer, **body.model_dump())
        except ValidationError as exc:
            raise HTTPException(422, reviews.messages(exc))
        reviews.record(session.db_uri, [v])
        latest = reviews.latest(session.db_uri, session.release_version)
        return {"reviewed": len(audit_ids & latest.keys()), "total": len(audit_ids),
                "saved": latest[body.sample_id]["verdict"]}

    return app


@contextmanager
def running(app: FastAPI, port: int = 0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (``port`` 0 = a free one) in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))  # loopback only: verdicts and private text never leave
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the review server did not start; see the log above")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
