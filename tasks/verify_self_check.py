"""verify self-check: planted pairs -> the verifier + rules -> caught per kind (no table).

Runs in the curate phase, after the verify stage and while the embedded model is still up.
Input: the planted pairs (``sftforge.grounding.planted``) and the build's verifier endpoint and
``VerifySettings``. Output: a stage record whose ``extra["self_check"]`` is the tally
(``sftforge.verifier.selfcheck.tally``) that ``summary.json`` (``verify_self_check``) and the
card show. Requests go through the gateway and its request cache: a rebuild asks nothing again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from sftforge.llm.endpoints import api_key
from sftforge.llm.gateway import LLMGateway
from sftforge.settings import ResolvedEndpoint
from sftforge.stage import BuildContext, StageStats, with_llm_started
from sftforge.llm.cache import request_key
from sftforge.verifier.run import check_jobs, run_checks
from sftforge.verifier.selfcheck import choose_pairs, outcomes, pairs_for, tally
from sftforge.verifier.settings import VerifySettings
from tasks.verify import VerifyStage

NAME = "verify_self_check"


@task(name=NAME, cache_policy=NO_CACHE)
def verify_self_check_task(ctx: BuildContext, settings: VerifySettings) -> StageStats:
    """Ask the planted pairs (``pairs_for``) and tally what the verifier and rules caught."""
    start = time.perf_counter()
    n = pairs_for(settings, ctx.endpoints[VerifyStage.role].embedded)
    if n == 0:
        return StageStats(stage=NAME, extra={"self_check": {}})
    pairs = choose_pairs(n)
    gateway = _gateway(ctx)
    if not all_cached(gateway, pairs, settings.checks):  # else the model need not start
        gateway = _gateway(with_llm_started(ctx))

    def verify(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = run_checks(gateway, rows, settings.checks, [r["pair_id"] for r in rows])
        return [verdict for verdict, _ in done]

    result = tally(pairs, outcomes(pairs, verify, settings))
    return StageStats(
        stage=NAME, items_in=result["pairs"],
        kept=sum(k["total"] - k["caught"] for k in result["kinds"].values()),
        failed=sum("verify_failed" in m["reasons"] for m in result["misjudged"]),
        llm_requests=gateway.usage["requests_sent"], cache_hits=gateway.usage["cache_hits"],
        seconds=round(time.perf_counter() - start, 3), extra={"self_check": result})


def _gateway(ctx: BuildContext) -> LLMGateway:
    spec = ctx.endpoints[VerifyStage.role]
    endpoint = ResolvedEndpoint(**spec.model_dump(), api_key=api_key(VerifyStage.role))
    return LLMGateway(endpoint, Path(ctx.home) / "llm_cache", run_id=ctx.run_id, stage=NAME)


def all_cached(gateway: LLMGateway, pairs: list[dict[str, Any]], checks: tuple[str, ...]) -> bool:
    """True when every check of every pair is in the request cache (nothing to send)."""
    jobs = [j for p in pairs for j in check_jobs(p, checks, p["pair_id"])]
    return all(gateway.cache.get(request_key(gateway.build_request(j))) is not None for j in jobs)
