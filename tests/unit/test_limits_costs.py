"""RPM/TPM token buckets on an injected clock, price and budget arithmetic, and the gateway
keeping to both against the scripted server (real HTTP, no wall-clock assertions)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from sftforge.llm.cache import RequestCache, stage_usage
from sftforge.llm.costs import Budget, cost_usd, price_of, run_cost, usage_by_role
from sftforge.llm.gateway import LLMGateway, LLMJob
from sftforge.llm.limits import RateLimiter, TokenBucket, limiter_for, request_tokens
from sftforge.settings import ModelPrice, ResolvedEndpoint, Settings
from tests.fakellm import FakeLLM


class Clock:
    """A clock the test moves by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self) -> None:
        self.now, self.slept = 1000.0, []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_rpm_bucket_allows_a_minute_then_one_request_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=3, clock=clock, sleep=clock.sleep)
    assert [limiter.try_acquire(10) for _ in range(3)] == [0, 0, 0]
    assert limiter.try_acquire(10) == pytest.approx(20.0)  # 60 s / 3 requests
    clock.now += 5
    assert limiter.try_acquire(10) == pytest.approx(15.0)  # nothing was taken meanwhile
    asyncio.run(limiter.acquire(10))
    assert clock.slept == [pytest.approx(15.0)] and limiter.waited == pytest.approx(15.0)


def test_tpm_bucket_waits_for_tokens_and_gets_unused_ones_back() -> None:
    clock = Clock()
    limiter = RateLimiter(tpm=600, clock=clock, sleep=clock.sleep)  # 10 tokens a second
    assert limiter.try_acquire(500) == 0
    assert limiter.try_acquire(300) == pytest.approx(20.0)  # 200 missing at 10/s
    limiter.settle(estimated=500, used=120)  # 380 estimated but not used come back
    assert limiter.try_acquire(300) == 0
    # A request larger than a whole minute waits for a full bucket, not forever.
    assert limiter.try_acquire(5000) == pytest.approx((600 - 180) / 10)


def test_limits_must_be_positive_and_are_shared_per_endpoint() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0, Clock())
    assert limiter_for("http://x/v1", "m", None, None) is None
    one = limiter_for("http://x/v1", "m", 60, None)
    assert limiter_for("http://x/v1", "m", 60, None) is one
    assert limiter_for("http://x/v1", "other", 60, None) is not one


def test_a_request_counts_its_prompt_and_max_tokens_against_tpm() -> None:
    body = {"messages": [{"role": "user", "content": "one two three"},
                         {"role": "system", "content": "跨站脚本"}], "max_tokens": 100}
    assert request_tokens(body) == 4 + 4 + 100  # 3 words -> 4 tokens; 4 CJK characters


def test_price_arithmetic() -> None:
    price = ModelPrice(prompt=0.15, completion=0.6)
    assert cost_usd(price, 1_000_000, 0) == pytest.approx(0.15)
    assert cost_usd(price, 2000, 500) == pytest.approx((2000 * 0.15 + 500 * 0.6) / 1e6)
    assert cost_usd(None, 10**9, 10**9) == 0.0
    prices = {"gpt-4o-mini": price}
    assert price_of(prices, "openai/gpt-4o-mini") is price and price_of(prices, "x") is None


def test_prices_and_budget_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFTFORGE_PRICES", '{"deepseek-chat": {"prompt": 0.27, "completion": 1.1}}')
    monkeypatch.setenv("SFTFORGE_BUDGET_USD", "2.5")
    monkeypatch.setenv("SFTFORGE_ANSWER__RPM", "30")
    s = Settings()
    assert s.prices["deepseek-chat"].completion == 1.1 and s.budget_usd == 2.5
    ep = s.endpoint("answer", embedded_url="http://127.0.0.1:9/v1")
    assert (ep.rpm, ep.tpm, s.endpoint("judge", embedded_url="http://127.0.0.1:9/v1").rpm) == \
        (30, None, None)


def test_run_cost_and_usage_per_role_from_the_request_log(tmp_path: Path) -> None:
    cache = RequestCache(tmp_path)
    cache.log("run1", "questions", "http", "c1", 200, (1000, 200), "gpt-4o-mini")
    cache.log("run1", "answers", "http", "q1", 200, (3000, 800), "big-model")
    cache.log("run1", "answers", "hit", "q2", model="big-model")
    cache.log("run1", "judge", "http", "s1", 200, (500, 50), "local")
    cache.log("run2", "answers", "http", "q9", 200, (10**6, 10**6), "big-model")
    prices = {"gpt-4o-mini": ModelPrice(prompt=0.15, completion=0.6),
              "big-model": ModelPrice(prompt=2.0, completion=8.0)}
    expected = (1000 * 0.15 + 200 * 0.6 + 3000 * 2.0 + 800 * 8.0) / 1e6
    assert run_cost(tmp_path, "run1", prices) == pytest.approx(expected)
    roles = usage_by_role(stage_usage(tmp_path, "run1"),
                          {"questions": "question", "answers": "answer", "judge": "judge"}, prices)
    assert roles["answer"] == {"models": ["big-model"], "requests": 1, "cache_hits": 1,
                               "prompt_tokens": 3000, "completion_tokens": 800,
                               "cost_usd": pytest.approx((3000 * 2.0 + 800 * 8.0) / 1e6)}
    assert roles["judge"]["cost_usd"] is None  # "local" has no price: reported as unpriced


def test_budget_counts_what_the_run_spent_before() -> None:
    budget = Budget(0.01, ModelPrice(prompt=1.0, completion=1.0), spent_before=0.006)
    assert not budget.exhausted()
    budget.charge(3000, 1000)  # $0.004
    assert budget.exhausted() and "SFTFORGE_BUDGET_USD=0.01" in budget.message()
    assert not Budget(None, None, 99.0).exhausted()


class Reply(BaseModel):
    answer: str = Field(max_length=300)


def _jobs(n: int) -> list[LLMJob]:
    return [LLMJob(item_id=f"i{k}", schema=Reply, messages=[
        {"role": "user", "content": f"Passage {k}: keep secrets in a vault number {k}."}])
        for k in range(n)]


def test_gateway_stops_sending_at_the_budget_and_keeps_finished_calls(tmp_path: Path) -> None:
    with FakeLLM() as fake:
        ep = ResolvedEndpoint(base_url=fake.base_url, model="fake-model", concurrency=1)
        # The scripted server reports prompt + completion tokens; at $1 per token each request
        # costs far more than the cap, so exactly the first one is sent.
        budget = Budget(0.5, ModelPrice(prompt=1e6, completion=1e6))
        gw = LLMGateway(ep, tmp_path, run_id="r", stage="answers", budget=budget)
        results = gw.run(_jobs(4))
        assert fake.requests == 1 and [r.ok for r in results] == [True, False, False, False]
        assert all(r.error.startswith("budget exhausted") for r in results[1:])
        again = LLMGateway(ep, tmp_path, run_id="r2", stage="answers").run(_jobs(1))
        assert again[0].cached and fake.requests == 1  # the finished call is in the cache


def test_gateway_waits_for_its_rate_limit(tmp_path: Path) -> None:
    with FakeLLM() as fake:
        ep = ResolvedEndpoint(base_url=fake.base_url, model="limited", rpm=2, concurrency=4)
        clock = Clock()
        limiter = limiter_for(ep.base_url, ep.model, 2, None)
        limiter.rpm = TokenBucket(2, clock)
        limiter.sleep = clock.sleep
        results = LLMGateway(ep, tmp_path, run_id="r", stage="answers").run(_jobs(3))
        assert all(r.ok for r in results) and fake.requests == 3
        assert clock.slept and sum(clock.slept) == pytest.approx(30.0)  # the third waited 30 s
