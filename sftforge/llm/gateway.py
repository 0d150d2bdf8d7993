"""LLM gateway: the one OpenAI-compatible client path of every LLM stage.

It owns concurrency, retries with backoff that honour ``Retry-After``, JSON answers validated by
pydantic (``sftforge.llm.structured``: json-repair, then one re-ask), ``finish_reason=length`` as
a failure, reasoning capture (``reasoning_content`` or ``<think>``), token accounting and the
request cache/log
(``sftforge.llm.cache``). Per-item failures never raise: they come back as an :class:`LLMResult`
with ``error`` set, for the failure ledger (``sftforge.llm.failures``).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import openai
import pydantic

from sftforge.llm.cache import CachedReply, RequestCache, request_key, run_usage
from sftforge.llm.costs import Budget
from sftforge.llm.limits import limiter_for, request_tokens
from sftforge.llm.structured import parse_json, response_format, split_reasoning, with_instruction
from sftforge.llm.yes_no import TOP_LOGPROBS, yes_no_value
from sftforge.settings import ResolvedEndpoint

__all__ = ["LLMGateway", "LLMJob", "LLMResult", "run_usage"]

RETRY_AFTER_CAP_S = 120.0
# 408/409 are transient on OpenAI-style servers too; every other 4xx would fail again.
_RETRY_STATUS = {408, 409, 429}
_RAW_KEEP = 20_000
# Clients and semaphores belong to one event loop, so they live here (per gateway, per loop)
# instead of on the gateway, which stays picklable and never ships a client to a worker.
_RUNTIME: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()
_REASK = ("Your previous reply could not be used ({error}). Reply again with only the JSON object "
          "that matches the JSON schema in the system message: no prose, no Markdown fences.")


@dataclass
class LLMJob:
    """One chat call for one item; the JSON answer must validate against ``schema``.

    ``schema=None`` asks for free text (Markdown answers of a teacher model): no JSON
    instruction, no ``response_format``; the reply text, reasoning split off, becomes the value
    ``{"text": reply}``. ``yes_no=True`` asks for one token with its log-probabilities at
    temperature 0; the value is ``{"p_yes": P(yes), "method": "logprobs" | "reply"}``
    (``sftforge.llm.yes_no``; "reply" where the endpoint returns no log-probabilities).
    """

    item_id: str
    messages: list[dict[str, str]]
    schema: type[pydantic.BaseModel] | None
    max_tokens: int | None = None
    temperature: float | None = None
    yes_no: bool = False


@dataclass
class LLMResult:
    """Outcome of one job: the validated value, or ``error`` with the raw reply kept."""

    item_id: str
    value: dict | None
    reasoning: str
    raw: str
    error: str | None
    attempts: int
    cached: bool
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def ok(self) -> bool:
        """True when ``value`` holds a validated answer."""
        return self.error is None and self.value is not None


OnResult = Callable[[LLMResult], None]


def _retry_after(exc: openai.APIStatusError) -> float | None:
    """Seconds the server asked us to wait (``Retry-After`` seconds or HTTP date), capped."""
    headers, value = exc.response.headers, exc.response.headers.get("retry-after")
    try:
        ms = headers.get("retry-after-ms")
        secs = float(ms) / 1000 if ms else float(value)
    except (TypeError, ValueError):
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)  # HTTP dates are GMT
        secs = (when - datetime.now(timezone.utc)).total_seconds()
    return min(max(secs, 0.0), RETRY_AFTER_CAP_S)


@dataclass
class _Try:
    """HTTP attempt(s) for one body: a response, or an error ``reason`` (``{n}`` = attempts)."""

    response: Any = None
    reason: str = ""
    retryable: bool = False
    retry_after: float | None = None
    status: int = 0
    attempts: int = 1
    tokens: tuple[int, int] = (0, 0)
    raw: str = ""  # the error body, kept for the failure ledger


@dataclass
class _Outcome:
    value: dict | None = None
    reasoning: str = ""
    raw: str = ""
    error: str | None = None
    reask: bool = False
    tokens: list[int] = field(default_factory=lambda: [0, 0])


class LLMGateway:
    """Send :class:`LLMJob` s to one endpoint with limits, retries, validation and caching.

    ``run_id``/``stage`` tag the request log so :func:`run_usage` can sum one build's cost.
    ``base_backoff_s``/``max_backoff_s`` shape the backoff; ``sleep`` is how it waits (tests
    make the first tiny and swap the second to observe what happens meanwhile).
    """

    def __init__(self, endpoint: ResolvedEndpoint, cache_dir: Path, run_id: str = "",
                 stage: str = "", base_backoff_s: float = 1.0, max_backoff_s: float = 30.0,
                 budget: Budget | None = None) -> None:
        self.endpoint, self.budget = endpoint, budget  # budget: stop sending once spent
        self.cache = RequestCache(Path(cache_dir))
        self.run_id, self.stage = run_id, stage
        self.base_backoff_s, self.max_backoff_s = base_backoff_s, max_backoff_s
        self.sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
        keys = ("requests_sent", "cache_hits", "prompt_tokens", "completion_tokens", "failures")
        self.usage: dict[str, int] = dict.fromkeys(keys, 0)

    def _state(self) -> tuple[openai.AsyncOpenAI, asyncio.Semaphore, dict[str, asyncio.Future]]:
        """Client, concurrency semaphore and in-flight requests of the running event loop."""
        ep, loop = self.endpoint, asyncio.get_running_loop()
        with _LOCK:
            loops = _RUNTIME.setdefault(self, weakref.WeakKeyDictionary())
            if loop not in loops:
                # max_retries=0: retries are ours, so backoff sleeps never hold a slot.
                key = ep.api_key.get_secret_value() or "sk-no-key"  # local servers need none
                client = openai.AsyncOpenAI(base_url=ep.base_url, timeout=ep.timeout_s,
                                            api_key=key, max_retries=0)
                loops[loop] = (client, asyncio.Semaphore(max(1, ep.concurrency)), {})
            return loops[loop]

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop (a new one is built on demand)."""
        with _LOCK:
            state = _RUNTIME.get(self, {}).pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state[0].close()

    def _count(self, **deltas: int) -> None:
        with _LOCK:
            self.usage.update({key: self.usage[key] + n for key, n in deltas.items()})
            if self.budget is not None and "prompt_tokens" in deltas:
                self.budget.charge(deltas["prompt_tokens"], deltas.get("completion_tokens", 0))

    def build_request(self, job: LLMJob) -> dict[str, Any]:
        """The chat-completions request body for ``job`` (also what the cache key hashes)."""
        ep = self.endpoint
        if job.yes_no:  # one token, greedy, with the alternatives it was chosen from
            return {"model": ep.model, "messages": [dict(m) for m in job.messages],
                    "temperature": 0.0, "max_tokens": 1, "logprobs": True,
                    "top_logprobs": TOP_LOGPROBS}
        body: dict[str, Any] = {
            "model": ep.model,
            "messages": with_instruction(job.messages, job.schema),
            "temperature": ep.temperature if job.temperature is None else job.temperature,
            "max_tokens": job.max_tokens or ep.max_tokens,
        }
        if job.schema is not None and (fmt := response_format(ep.json_mode, job.schema)):
            body["response_format"] = fmt
        return body

    async def acomplete(self, job: LLMJob) -> LLMResult:
        """Answer one job: from the cache, or over HTTP with retries, repair and one re-ask."""
        body = self.build_request(job)
        key, in_flight = request_key(body), self._state()[2]
        while key in in_flight:  # the same request is already on its way: wait for its answer
            await asyncio.wait([in_flight[key]])
        hit = self.cache.get(key)
        if hit is not None:
            self.cache.log(self.run_id, self.stage, "hit", job.item_id, model=self.endpoint.model)
            self._count(cache_hits=1)
            return LLMResult(job.item_id, hit.value, hit.reasoning, hit.raw, None, 0, True)
        in_flight[key] = asyncio.get_running_loop().create_future()
        try:
            result = await self._complete(job, body)
            if result.ok:  # only validated answers are cached: failures are retried next run
                reply = CachedReply(result.value or {}, result.reasoning, result.raw)
                tokens = (result.prompt_tokens, result.completion_tokens)
                self.cache.put(key, reply, self.endpoint.model, tokens)
            else:
                self._count(failures=1)
        finally:
            in_flight.pop(key).set_result(None)
        return result

    async def _complete(self, job: LLMJob, body: dict[str, Any]) -> LLMResult:
        state = self._state()
        reply = await self._post(state, body, job.item_id)
        if job.yes_no:
            return await self._yes_no(state, body, job.item_id, reply)
        out, attempts = self._judge(reply, job.schema, body["max_tokens"]), reply.attempts
        if out.reask:
            messages = [*body["messages"], {"role": "assistant", "content": out.raw},
                        {"role": "user", "content": _REASK.format(error=out.error)}]
            reply = await self._post(state, {**body, "messages": messages}, job.item_id)
            first, out = out, self._judge(reply, job.schema, body["max_tokens"])
            attempts += reply.attempts
            out.raw = out.raw or first.raw  # keep a reply for the ledger if the re-ask died
            out.tokens = [a + b for a, b in zip(first.tokens, out.tokens)]
        raw = self._scrub(out.raw)[:_RAW_KEEP]
        return LLMResult(job.item_id, out.value, out.reasoning, raw, out.error, attempts, False,
                         out.tokens[0], out.tokens[1])

    async def _yes_no(self, state: tuple, body: dict[str, Any], item_id: str,
                      reply: _Try) -> LLMResult:
        """A yes/no job's result; an endpoint that refuses the ``logprobs`` fields (HTTP 400
        naming them) is asked once more without them, for the one-word reply."""
        attempts, tokens = reply.attempts, reply.tokens
        if reply.status == 400 and "logprob" in (reply.reason + reply.raw).lower():
            plain = {k: v for k, v in body.items() if k not in ("logprobs", "top_logprobs")}
            reply = await self._post(state, plain, item_id)
            attempts += reply.attempts
            tokens = (tokens[0] + reply.tokens[0], tokens[1] + reply.tokens[1])
        choices = getattr(reply.response, "choices", None)
        value, error, raw = None, reply.reason or "empty response: no choices", reply.raw
        if choices:
            raw = choices[0].message.content or ""
            value, error = yes_no_value(choices[0])
        return LLMResult(item_id, value, "", self._scrub(raw)[:_RAW_KEEP], error, attempts,
                         False, tokens[0], tokens[1])

    def _judge(self, reply: _Try, schema: type[pydantic.BaseModel] | None,
               max_tokens: int) -> _Outcome:
        """Turn one HTTP reply into a value or a failure reason (``reask`` = worth asking again)."""
        out = _Outcome(tokens=list(reply.tokens))
        choices = getattr(reply.response, "choices", None)
        if not choices:
            out.error = reply.reason if reply.response is None else "empty response: no choices"
            out.raw = reply.raw
            return out
        choice, msg = choices[0], choices[0].message
        out.raw = msg.content or ""
        # An extra field: reasoning_content (DeepSeek, vLLM, llama.cpp) or reasoning (others)
        field_reasoning = getattr(msg, "reasoning_content", None) or getattr(msg, "reasoning", None)
        think, answer, think_error = split_reasoning(out.raw)
        out.reasoning = "\n\n".join(t for t in (str(field_reasoning or "").strip(), think) if t)
        if choice.finish_reason == "length":
            out.error = f"truncated: finish_reason=length (raise max_tokens, now {max_tokens})"
        elif choice.finish_reason == "content_filter":
            out.error = "content filter: the provider refused to answer"
        elif think_error:
            out.error = think_error
        elif not answer:
            out.error = f"empty content: finish_reason={choice.finish_reason}"
        elif schema is None:  # free text: the answer as written, nothing to repair
            out.value = {"text": answer}
        else:
            out.value, out.error = parse_json(answer, schema)
            out.reask = out.error is not None
        return out

    async def _post(self, state: tuple, body: dict[str, Any], item_id: str) -> _Try:
        """Send ``body`` with retries; the semaphore is held only while a request is in flight."""
        tries = max(0, self.endpoint.max_retries) + 1
        tokens, ep = [0, 0], self.endpoint
        limiter = limiter_for(ep.base_url, ep.model, ep.rpm, ep.tpm)
        estimate = request_tokens(body)
        for attempt in range(1, tries + 1):
            if limiter is not None:  # waits outside the semaphore: no slot held while waiting
                await limiter.acquire(estimate)
            async with state[1]:
                # Checked with the slot held, so requests queued behind it see its cost.
                if self.budget is not None and self.budget.exhausted():
                    got = _Try(reason=self.budget.message())  # never sent: nothing logged
                    break
                got = await self._send_once(state[0], body)
            used = _usage_of(got.response)
            if limiter is not None:
                limiter.settle(estimate, used[0] + used[1])
            tokens = [tokens[0] + used[0], tokens[1] + used[1]]
            self.cache.log(self.run_id, self.stage, "http", item_id, got.status, used,
                           self.endpoint.model)
            self._count(requests_sent=1, prompt_tokens=used[0], completion_tokens=used[1])
            if got.response is not None or not got.retryable or attempt == tries:
                break
            await self.sleep(self._delay(attempt, got.retry_after))
        got.reason = got.reason.replace("{n}", str(attempt))
        got.attempts, got.tokens = attempt, (tokens[0], tokens[1])
        return got

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, or the server's ``Retry-After`` plus a little jitter."""
        if retry_after is not None:
            return retry_after * random.uniform(1.0, 1.1)
        backoff = min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempt - 1))
        return backoff * random.uniform(0.5, 1.5)

    async def _send_once(self, client: openai.AsyncOpenAI, body: dict[str, Any]) -> _Try:
        try:
            response = await client.chat.completions.create(**body)
        except openai.APIStatusError as exc:
            return self._status_failure(exc)
        except openai.APITimeoutError:
            each = f"{self.endpoint.timeout_s:g}s each"
            return _Try(reason=f"timeout after {{n}} attempts ({each})", retryable=True)
        except openai.APIConnectionError as exc:
            why = self._scrub(str(exc))[:200]
            return _Try(reason=f"connection error after {{n}} attempts: {why}", retryable=True)
        except openai.APIError as exc:  # e.g. a 200 with a body that is not a completion
            return _Try(reason=f"api error: {self._scrub(str(exc))[:200]}")
        error = (getattr(response, "model_extra", None) or {}).get("error")
        if error is not None and not getattr(response, "choices", None):
            return self._error_body(error)
        return _Try(response=response, status=200)

    def _error_body(self, error: Any) -> _Try:
        """A 200 whose body is an error object (some gateways report overload this way): a
        failure with the provider's message, retried unless its code says it would fail again."""
        message = error.get("message") if isinstance(error, dict) else error
        code = error.get("code") if isinstance(error, dict) else None
        retryable = not isinstance(code, int) or code in _RETRY_STATUS or code >= 500
        raw = self._scrub(json.dumps({"error": error}, ensure_ascii=False))
        detail = self._scrub(str(message))[:300]
        return _Try(reason=f"api error after {{n}} attempts: error object in a 200 reply: {detail}",
                    retryable=retryable, status=200, raw=raw)

    def _status_failure(self, exc: openai.APIStatusError) -> _Try:
        code = exc.status_code
        raw = self._scrub(exc.response.text)  # an HTML error page says which proxy failed
        if code in _RETRY_STATUS or code >= 500:
            return _Try(reason=f"http {code} after {{n}} attempts", retryable=True,
                        retry_after=_retry_after(exc), status=code, raw=raw)
        if code in (401, 403):
            # The body may echo part of the key, so it is not quoted.
            return _Try(status=code, reason=(
                f"http {code}: authentication failed for model {self.endpoint.model}; check "
                "SFTFORGE_LLM_API_KEY (or the role's SFTFORGE_<ROLE>__API_KEY)"))
        body = exc.body.get("error", exc.body) if isinstance(exc.body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        detail = self._scrub(str(message or exc.message))[:300]
        return _Try(status=code, reason=f"http {code}: {detail}", raw=raw)

    def _scrub(self, text: str) -> str:
        """Remove the API key from text that may reach logs, tables or the dataset card."""
        key = self.endpoint.api_key.get_secret_value()
        return text.replace(key, "***") if len(key) >= 4 else text

    def run(self, jobs: list[LLMJob], on_result: OnResult | None = None) -> list[LLMResult]:
        """Run ``jobs`` concurrently under the endpoint's limit; results in job order.

        ``on_result`` sees each result as it arrives. Safe inside a running event loop.
        """
        if not jobs:
            return []
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._run_all(jobs, on_result))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sftforge-llm") as pool:
            return pool.submit(lambda: asyncio.run(self._run_all(jobs, on_result))).result()

    def run_groups(self, groups: list[list[LLMJob]], parallel: int,
                   on_result: OnResult | None = None) -> list[list[LLMResult]]:
        """Run each group's jobs one after another (a server's prompt cache keeps the prefix
        they share), at most ``parallel`` groups at once; results in group and job order."""
        async def all_groups() -> list[list[LLMResult]]:
            gate = asyncio.Semaphore(max(1, parallel))

            async def group(jobs: list[LLMJob]) -> list[LLMResult]:
                async with gate:
                    return [await self._one(job, on_result) for job in jobs]
            try:
                return list(await asyncio.gather(*(group(g) for g in groups)))
            finally:
                await self.aclose()
        return self._in_loop(all_groups) if groups else []

    def _in_loop(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run the coroutine ``make()`` to its end, also from inside a running event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(make())
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sftforge-llm") as pool:
            return pool.submit(lambda: asyncio.run(make())).result()

    async def _one(self, job: LLMJob, on_result: OnResult | None) -> LLMResult:
        result = await self.acomplete(job)
        if on_result is not None:
            on_result(result)
        return result

    async def _run_all(self, jobs: list[LLMJob], on_result: OnResult | None) -> list[LLMResult]:
        async def one(job: LLMJob) -> LLMResult:
            result = await self.acomplete(job)
            if on_result is not None:
                on_result(result)
            return result

        try:
            return list(await asyncio.gather(*(one(j) for j in jobs)))
        finally:
            await self.aclose()


def _usage_of(response: Any) -> tuple[int, int]:
    usage = getattr(response, "usage", None)
    return (usage.prompt_tokens or 0, usage.completion_tokens or 0) if usage else (0, 0)

