"""Run the verifier's checks on pairs through the LLM gateway.

Input: rows with ``source`` (the passage), ``question`` and ``answer``. Output, per row,
``{check: P(yes)}`` plus ``method`` (``"logprobs"``, or ``"reply"`` when some check was read
from a one-word reply), or ``error`` naming the first check that failed. A pair's checks go
back to back (one group), so the server evaluates the shared prefix once; on the embedded
model (one request at a time anyway) groups run one after another, elsewhere under the
endpoint's concurrency. Every request goes through the gateway: request cache, retries,
failure reasons and token accounting as for any stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from sftforge.llm.gateway import LLMGateway, LLMJob, LLMResult
from sftforge.settings import ResolvedEndpoint, Settings
from sftforge.verifier.checks import DEFAULT_CHECKS, check_messages, pair_lang

__all__ = ["DEFAULT_CHECKS", "check_jobs", "run_checks", "verify_rows"]


def check_jobs(row: dict[str, Any], checks: tuple[str, ...], item_id: str) -> list[LLMJob]:
    """One yes/no job per check of one pair (item ids ``<item_id>:<check>``)."""
    lang = pair_lang(row["question"], row["answer"])
    return [LLMJob(item_id=f"{item_id}:{check}", schema=None, yes_no=True,
                   messages=check_messages(row["source"], row["question"], row["answer"],
                                           check, lang))
            for check in checks]


def collect(results: list[LLMResult], checks: tuple[str, ...]) -> dict[str, Any]:
    """One row's verdict from its checks' results (in ``checks`` order)."""
    out: dict[str, Any] = {}
    methods = set()
    for check, result in zip(checks, results):
        if not result.ok:
            return {**out, "error": f"{check}: {result.error}"}
        out[check] = float(result.value["p_yes"])  # type: ignore[index]
        methods.add(result.value["method"])  # type: ignore[index]
    out["method"] = "reply" if "reply" in methods else "logprobs"
    return out


def run_checks(gateway: LLMGateway, rows: list[dict[str, Any]], checks: tuple[str, ...],
               ids: list[str], on_row: Callable[[], None] | None = None,
               ) -> list[tuple[dict[str, Any], list[LLMResult]]]:
    """(verdict, results) per row, its checks sent back to back."""
    groups = [check_jobs(row, checks, item_id) for row, item_id in zip(rows, ids)]
    parallel = 1 if gateway.endpoint.embedded else gateway.endpoint.concurrency
    last = {g[-1].item_id for g in groups if g}
    tick = (lambda r: on_row() if r.item_id in last else None) if on_row else None
    done = gateway.run_groups(groups, parallel, on_result=tick)
    return [(collect(results, checks), results) for results in done]


def verify_rows(rows: list[dict[str, Any]], endpoint: ResolvedEndpoint,
                checks: tuple[str, ...] = DEFAULT_CHECKS, *, cache_dir: Path | None = None,
                run_id: str = "", stage: str = "verify") -> list[dict[str, Any]]:
    """Per row ``{check: P(yes), ..., "method": ...}`` (or ``error`` when a check failed).

    ``rows`` carry ``source``, ``question`` and ``answer``; requests are cached under
    ``cache_dir`` (default: the sftforge home's ``llm_cache``), so asking again is free.
    """
    cache = cache_dir or Settings().home / "llm_cache"
    gateway = LLMGateway(endpoint, cache, run_id=run_id, stage=stage)
    ids = [str(r.get("pair_id") or r.get("id") or i) for i, r in enumerate(rows)]
    return [verdict for verdict, _ in run_checks(gateway, rows, tuple(checks), ids)]
