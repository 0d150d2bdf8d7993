"""Requests-per-minute and tokens-per-minute limits of one endpoint: two token buckets.

Each bucket holds up to a minute's allowance and refills continuously (``limit / 60`` per
second), the way providers meter RPM/TPM. A request takes 1 from the RPM bucket and its
estimated tokens (prompt estimate + ``max_tokens``, what OpenAI-style providers count against
TPM) from the TPM bucket; once the reply says how many tokens were really used, the difference
is given back. A request larger than a whole minute's TPM waits for a full bucket instead of
forever.

One limiter per (base URL, model, limits) in a process, shared by every gateway and event
loop of the build (the buckets hold plain numbers behind a thread lock). The clock and the
sleep are injectable, so tests drive time by hand.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Awaitable, Callable

from sftforge.settings import EndpointSpec
from sftforge.text import estimate_tokens

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


class TokenBucket:
    """``per_minute`` units a minute, at most a minute's worth banked."""

    def __init__(self, per_minute: float, clock: Clock) -> None:
        if per_minute <= 0:
            raise ValueError(f"a rate limit must be positive, got {per_minute}")
        self.capacity, self.rate, self.clock = float(per_minute), per_minute / 60.0, clock
        self.level, self.stamp = self.capacity, clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` (capped at the capacity) can be taken; 0 = now."""
        self._refill()
        need = min(amount, self.capacity) - self.level
        return max(0.0, need / self.rate)

    def take(self, amount: float) -> None:
        """Take ``amount`` (capped at the capacity); the level may go below zero on refunds."""
        self._refill()
        self.level -= min(amount, self.capacity)

    def give_back(self, amount: float) -> None:
        """Return ``amount`` taken in excess (e.g. tokens estimated but not used)."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    """RPM and TPM limits of one endpoint (``None`` = no limit of that kind)."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.rpm = TokenBucket(rpm, clock) if rpm else None
        self.tpm = TokenBucket(tpm, clock) if tpm else None
        self.sleep = sleep
        self.waited = 0.0  # seconds spent waiting, for the stage's stats
        self._lock = threading.Lock()

    def try_acquire(self, tokens: int) -> float:
        """Take one request of ``tokens`` if both buckets allow it now (returns 0), else take
        nothing and return the seconds to wait before trying again."""
        with self._lock:
            wait = max(self.rpm.wait_for(1) if self.rpm else 0.0,
                       self.tpm.wait_for(tokens) if self.tpm else 0.0)
            if wait <= 0:
                if self.rpm:
                    self.rpm.take(1)
                if self.tpm:
                    self.tpm.take(tokens)
            return wait

    async def acquire(self, tokens: int) -> None:
        """Wait until one request of ``tokens`` estimated tokens may be sent, and take it."""
        while (wait := self.try_acquire(tokens)) > 0:
            self.waited += wait
            await self.sleep(wait)

    def settle(self, estimated: int, used: int) -> None:
        """Give back the tokens estimated for a request that used fewer."""
        if self.tpm and used and used < estimated:
            with self._lock:
                self.tpm.give_back(estimated - used)


def request_tokens(body: dict[str, Any]) -> int:
    """Tokens a chat request counts against a TPM limit: its prompt (estimated) + ``max_tokens``."""
    text = "\n".join(str(m.get("content") or "") for m in body["messages"])
    return estimate_tokens(text) + int(body.get("max_tokens") or 0)


_LIMITERS: dict[tuple, RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(base_url: str, model: str, rpm: int | None, tpm: int | None) -> RateLimiter | None:
    """The process-wide limiter of an endpoint (None when it has no limits)."""
    if not (rpm or tpm):
        return None
    key = (base_url, model, rpm, tpm)
    with _REGISTRY_LOCK:
        if key not in _LIMITERS:
            _LIMITERS[key] = RateLimiter(rpm, tpm)
        return _LIMITERS[key]


class MissingLimit(RuntimeError):
    """A strict build found a limit it needs unset; the message says which and how to set it."""


def check_strict(endpoints: dict[str, EndpointSpec], concurrency_limit: str) -> None:
    """Strict limits (``SFTFORGE_LLM_LIMITS_STRICT``): every remote role has an RPM or TPM limit
    and the Prefect server has the global concurrency limit ``concurrency_limit``; otherwise
    raise :class:`MissingLimit` naming what to set. The embedded model needs no limit."""
    missing = [f"{role} ({ep.model} at {ep.base_url})" for role, ep in endpoints.items()
               if not ep.embedded and not (ep.rpm or ep.tpm)]
    if missing:
        raise MissingLimit(
            f"strict limits: no RPM/TPM limit for {', '.join(missing)}. Set SFTFORGE_LLM_RPM / "
            "SFTFORGE_LLM_TPM (or per role, e.g. SFTFORGE_ANSWER__RPM), or turn "
            "SFTFORGE_LLM_LIMITS_STRICT off.")
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(concurrency_limit)
        except ObjectNotFound:
            raise MissingLimit(
                f"strict limits: the Prefect server has no global concurrency limit "
                f"{concurrency_limit!r}. Create it with `python infra/bootstrap.py --llm-slots N "
                "--no-key`, or turn SFTFORGE_LLM_LIMITS_STRICT off.") from None
