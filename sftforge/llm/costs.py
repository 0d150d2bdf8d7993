"""Token prices, estimated cost and the build's budget cap.

Prices are per model, in USD per 1M prompt / completion tokens (``Settings.prices``, e.g.
``SFTFORGE_PRICES='{"gpt-4o-mini": {"prompt": 0.15, "completion": 0.6}}'``); a model without a
price costs nothing (local models) and is reported as unpriced. The budget
(``SFTFORGE_BUDGET_USD``) is checked by the gateway before every request it sends: what the
build already spent (the request log of its run, ``sftforge.llm.cache.stage_usage``) plus what
this gateway spent since. Requests already in flight finish and are kept, so a build may end up
to ``concurrency`` requests over the cap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sftforge.llm.cache import stage_usage
from sftforge.settings import ModelPrice

__all__ = ["Budget", "BudgetExceeded", "ModelPrice", "cost_usd", "price_of", "run_cost",
           "usage_by_role"]

PER = 1_000_000


class BudgetExceeded(RuntimeError):
    """The build reached its budget cap (``SFTFORGE_BUDGET_USD``)."""


def cost_usd(price: ModelPrice | None, prompt_tokens: int, completion_tokens: int) -> float:
    """Cost of ``prompt_tokens`` + ``completion_tokens`` at ``price`` (0 when unpriced)."""
    if price is None:
        return 0.0
    return (prompt_tokens * price.prompt + completion_tokens * price.completion) / PER


def price_of(prices: dict[str, ModelPrice], model: str) -> ModelPrice | None:
    """The price of ``model``: exact name first, then the provider-less name (``a/b`` -> ``b``)."""
    return prices.get(model) or prices.get(model.rsplit("/", 1)[-1])


def run_cost(cache_dir: Path, run_id: str, prices: dict[str, ModelPrice]) -> float:
    """USD spent so far by build ``run_id`` (every HTTP request it logged, any stage)."""
    return sum(cost_usd(price_of(prices, u["model"]), u["prompt_tokens"], u["completion_tokens"])
               for u in stage_usage(cache_dir, run_id))


def usage_by_role(usage: list[dict[str, Any]], roles: dict[str, str],
                  prices: dict[str, ModelPrice]) -> dict[str, dict[str, Any]]:
    """``stage_usage`` rows summed per role (stage -> role in ``roles``; unknown stages keep
    their name): model(s), requests, cache hits, tokens and ``cost_usd`` (None if unpriced)."""
    out: dict[str, dict[str, Any]] = {}
    for u in usage:
        role = roles.get(u["stage"], u["stage"])
        entry = out.setdefault(role, {"models": [], "requests": 0, "cache_hits": 0,
                                      "prompt_tokens": 0, "completion_tokens": 0,
                                      "cost_usd": 0.0, "priced": True})
        if u["model"] and u["model"] not in entry["models"]:
            entry["models"].append(u["model"])
        for key in ("requests", "cache_hits", "prompt_tokens", "completion_tokens"):
            entry[key] += u[key]
        price = price_of(prices, u["model"])
        entry["priced"] &= price is not None or not u["requests"]
        entry["cost_usd"] += cost_usd(price, u["prompt_tokens"], u["completion_tokens"])
    for entry in out.values():
        entry["cost_usd"] = round(entry["cost_usd"], 6) if entry.pop("priced") else None
    return out


class Budget:
    """The spending cap one gateway enforces: ``limit_usd`` over the whole run.

    ``spent_before`` is what the run had spent when the gateway was built; :meth:`charge` adds
    each request this gateway sends; :meth:`exhausted` is asked before each send. No lock of
    its own, so a gateway holding one stays picklable.
    """

    def __init__(self, limit_usd: float | None, price: ModelPrice | None,
                 spent_before: float = 0.0) -> None:
        self.limit_usd, self.price, self.spent = limit_usd, price, spent_before

    @classmethod
    def for_run(cls, limit_usd: float | None, prices: dict[str, ModelPrice], model: str,
                cache_dir: Path, run_id: str) -> "Budget":
        """The budget of a gateway for ``model`` in build ``run_id`` (reads the request log)."""
        spent = run_cost(cache_dir, run_id, prices) if limit_usd is not None else 0.0
        return cls(limit_usd, price_of(prices, model), spent)

    def charge(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Count one request's tokens (the gateway calls it under its lock)."""
        self.spent += cost_usd(self.price, prompt_tokens, completion_tokens)

    def exhausted(self) -> bool:
        """True when a cap is set and the run has spent it."""
        return self.limit_usd is not None and self.spent >= self.limit_usd

    def message(self) -> str:
        """Why a request was not sent (for the failure ledger and the CLI)."""
        return (f"budget exhausted: ${self.spent:.4f} spent of SFTFORGE_BUDGET_USD="
                f"{self.limit_usd:g}; finished calls are kept, raise the budget and build again")
