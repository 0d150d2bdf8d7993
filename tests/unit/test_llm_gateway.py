"""LLM gateway and failure ledger against the scripted server (real HTTP, real openai client)."""

from __future__ import annotations

import asyncio
import json
import pickle
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Iterator, Literal

import httpx2
import openai
import pytest
from pydantic import BaseModel, Field

from sftforge.llm.failures import clear_failures, failure_category, failure_counts, record_failures
from sftforge.llm.gateway import LLMGateway, LLMJob, LLMResult, _retry_after, run_usage
from sftforge.llm.structured import parse_json, schema_instruction, split_reasoning, wire_schema
from sftforge.settings import ResolvedEndpoint
from sftforge import store
from tests.fakellm import FakeLLM

EN = ("SQL injection happens when user input is concatenated into a query. Prepared statements "
      "keep data apart from code. A web application firewall only lowers the risk.")
ZH = "跨站脚本攻击利用未转义的输出。内容安全策略可以减轻风险。输入校验不能替代输出编码。"


class Question(BaseModel):
    question: str = Field(max_length=300)
    qtype: Literal["factual", "conceptual", "reasoning"]
    difficulty: int = Field(ge=1, le=10)


class Questions(BaseModel):
    questions: list[Question] = Field(min_length=2, max_length=2)


class Answer(BaseModel):
    answer: str
    confidence: float = Field(ge=0, le=1)


def job(item_id: str, text: str, schema: type[BaseModel] = Questions,
        system: bool = True) -> LLMJob:
    messages = [{"role": "user", "content": f"Write questions about this passage.\n{text}"}]
    if system:
        messages.insert(0, {"role": "system", "content": "You write exam questions."})
    return LLMJob(item_id=item_id, messages=messages, schema=schema)


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM(timeout_sleep_s=2.0) as server:
        yield server


def gateway(fake: FakeLLM, cache: Path, run_id: str = "run-1", **endpoint: object) -> LLMGateway:
    fields = {"base_url": fake.base_url, "model": "test-model", "timeout_s": 1.0,
              "max_retries": 2, "json_mode": "schema_object", **endpoint}
    return LLMGateway(ResolvedEndpoint(**fields), cache, run_id=run_id, stage="questions",
                      base_backoff_s=0.01, max_backoff_s=0.05)


def test_success_english_and_chinese(fake: FakeLLM, tmp_path: Path) -> None:
    gw = gateway(fake, tmp_path)
    en, zh = gw.run([job("en", EN), job("zh", ZH, system=False)])
    assert en.ok and zh.ok and not en.cached and en.attempts == 1
    assert [len(r.value["questions"]) for r in (en, zh)] == [2, 2]
    assert en.value["questions"][0]["question"].endswith("?")
    assert "跨站脚本" in json.dumps(zh.value, ensure_ascii=False)
    assert en.value != zh.value and en.prompt_tokens > 0 and en.completion_tokens > 0
    # The schema instruction is appended to the system message (added when missing).
    by_lang = {("zh" if "跨站" in json.dumps(b, ensure_ascii=False) else "en"): b for b in fake.log}
    sys_en, sys_zh = by_lang["en"]["messages"][0], by_lang["zh"]["messages"][0]
    assert sys_en["content"].startswith("You write exam questions.") and sys_zh["role"] == "system"
    lines = sys_zh["content"].splitlines()
    assert json.loads(lines[lines.index("JSON schema:") + 1]) == wire_schema(Questions)
    assert gw.usage["requests_sent"] == 2 and gw.usage["prompt_tokens"] > 0


@pytest.mark.parametrize("mode, expected", [
    ("schema_object", {"type": "json_object", "schema": wire_schema(Answer)}),
    ("json_schema", {"type": "json_schema",
                     "json_schema": {"name": "Answer", "schema": wire_schema(Answer)}}),
    ("json_object", {"type": "json_object"}),
    ("none", None),
])
def test_response_format_per_json_mode(fake: FakeLLM, tmp_path: Path, mode: str,
                                       expected: dict | None) -> None:
    (res,) = gateway(fake, tmp_path, json_mode=mode).run([job("a", EN, Answer)])
    assert res.ok and 0 <= res.value["confidence"] <= 1  # "none": schema read from the prompt
    assert fake.log[0].get("response_format") == expected
    assert "JSON schema:" in fake.log[0]["messages"][0]["content"]


def test_429_retry_after_frees_the_slot_while_waiting(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("429", times=1, match="alpha", retry_after=30)
    gw = gateway(fake, tmp_path, concurrency=1)
    quick_done, waits = threading.Event(), []

    async def patient_sleep(seconds: float) -> None:
        # Stands in for the 30 s Retry-After wait: ends as soon as the other job is done, which
        # can only happen if this waiting job does not hold the single concurrency slot.
        for _ in range(6000):  # a bound for a broken gateway only: 60 s
            if quick_done.is_set():
                break
            await asyncio.sleep(0.01)
        waits.append((seconds, quick_done.is_set()))

    gw.sleep = patient_sleep
    done: list[str] = []

    def on_result(res: LLMResult) -> None:
        done.append(res.item_id)
        if res.item_id == "quick":
            quick_done.set()

    slow, quick = gw.run([job("slow", f"alpha {EN}"), job("quick", f"beta {ZH}")], on_result)
    assert slow.ok and quick.ok and (slow.attempts, quick.attempts) == (2, 1)
    assert len(waits) == 1 and 30 <= waits[0][0] <= 33 and waits[0][1] is True
    senders = ["alpha" if "alpha" in json.dumps(b) else "beta" for b in fake.log]
    assert senders == ["alpha", "beta", "alpha"] and done == ["quick", "slow"]
    assert run_usage(tmp_path, "run-1")["llm_requests"] == 3


def test_429_real_wait_then_success(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("429", times=1, retry_after=0.2)
    (res,) = gateway(fake, tmp_path).run([job("a", ZH)])
    assert res.ok and res.attempts == 2 and fake.requests == 2


def test_concurrency_limit_holds(tmp_path: Path) -> None:
    # Each request is held until 3 are in flight (or 3 s pass): a client that keeps its limit of
    # 2 never gets there (both of a pair wait, so they overlap: peak 2); a client that breaks it
    # is caught holding 3 or more at once. No sleep length decides the outcome.
    with FakeLLM() as fake:
        fake.rendezvous, fake.rendezvous_wait_s = 3, 3.0
        results = gateway(fake, tmp_path, concurrency=2, timeout_s=60.0).run(
            [job(str(i), f"{EN} item{i}") for i in range(4)])
        assert all(r.ok for r in results) and fake.peak_in_flight == 2


def test_500_retried_then_gives_up(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("500", times=2, match="alpha")
    fake.add_fault("500", times=-1, match="beta")
    ok, bad = gateway(fake, tmp_path).run([job("a", f"alpha {EN}"), job("b", f"beta {EN}")])
    assert ok.ok and ok.attempts == 3
    assert not bad.ok and bad.error == "http 500 after 3 attempts" and bad.attempts == 3
    assert fake.requests == 6


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    with FakeLLM() as gone:
        url = gone.base_url  # a port that nothing listens on once the server stops
    (res,) = gateway(gone, tmp_path, base_url=url, api_key="").run([job("a", EN)])
    assert res.error.startswith("connection error after 3 attempts") and res.attempts == 3
    assert run_usage(tmp_path, "run-1")["llm_requests"] == 3


def test_400_is_not_retried(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("400", times=-1)
    (res,) = gateway(fake, tmp_path).run([job("a", EN)])
    assert res.error == "http 400: Invalid request: unsupported parameter" and res.attempts == 1
    assert fake.requests == 1


def test_timeout_retried_then_failure_when_persistent(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("timeout", times=1, match="alpha")
    fake.add_fault("timeout", times=-1, match="beta")
    gw = gateway(fake, tmp_path, timeout_s=1.0, max_retries=1)  # the server stalls for 2 s
    ok, bad = gw.run([job("a", f"alpha {EN}"), job("b", f"beta {ZH}")])
    assert ok.ok and ok.attempts == 2
    assert bad.error == "timeout after 2 attempts (1s each)" and bad.attempts == 2


def test_broken_json_reasks_once_then_fails_with_raw_kept(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("broken_json", times=-1)
    (res,) = gateway(fake, tmp_path).run([job("a", EN)])
    assert not res.ok and res.error.startswith("invalid json: ") and res.value is None
    assert res.raw.startswith("I am sorry") and res.attempts == 2 and fake.requests == 2
    reask = fake.log[1]["messages"]
    assert reask[-2] == {"role": "assistant", "content": res.raw}
    assert reask[-1]["role"] == "user" and "invalid json" in reask[-1]["content"]


def test_broken_json_fixed_by_the_reask(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("broken_json", times=1)
    (res,) = gateway(fake, tmp_path).run([job("a", ZH)])
    assert res.ok and res.attempts == 2 and fake.requests == 2


def test_repairable_json_succeeds_without_reask(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("repairable_json", times=1)
    (res,) = gateway(fake, tmp_path).run([job("a", EN)])
    assert res.raw.startswith("```json") and res.ok and fake.requests == 1


def test_truncated_is_a_failure_without_reask(fake: FakeLLM, tmp_path: Path) -> None:
    fake.responder = lambda body: {"content": '{"answer": "ok", "confidence": 0.5}',
                                   "finish_reason": "length"}
    (res,) = gateway(fake, tmp_path).run([job("a", EN, Answer)])
    assert res.error.startswith("truncated: finish_reason=length") and fake.requests == 1


def test_empty_content_is_a_failure(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("empty", times=-1)
    (res,) = gateway(fake, tmp_path).run([job("a", EN)])
    assert res.error == "empty content: finish_reason=stop" and not res.ok


def test_reasoning_captured_from_think_and_field(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("think", times=1, match="alpha")
    fake.add_fault("reasoning_field", times=1, match="beta")
    think, field = gateway(fake, tmp_path).run([job("a", f"alpha {EN}"), job("b", f"beta {ZH}")])
    assert think.ok and think.reasoning.startswith("First I find") and "<think>" in think.raw
    assert field.ok and field.reasoning.startswith("The question asks")


def test_reasoning_server_option_and_unclosed_think(tmp_path: Path) -> None:
    with FakeLLM(reasoning=True) as fake:
        (res,) = gateway(fake, tmp_path).run([job("a", EN)])
        assert res.ok and res.reasoning == "Reading the request step by step."
        fake.reasoning = False
        fake.responder = lambda body: "<think>still thinking about 注入 and never stopping"
        (bad,) = gateway(fake, tmp_path).run([job("b", ZH)])
        assert bad.error.startswith("unclosed think") and "注入" in bad.reasoning


def test_split_reasoning_and_parse_json_units() -> None:
    assert split_reasoning("<think>想一想</think>\n{}") == ("想一想", "{}", None)
    assert split_reasoning('reasoning only</think>{"a": 1}') == ("reasoning only", '{"a": 1}', None)
    assert split_reasoning('{"a": "<think>"}') == ("", '{"a": "<think>"}', None)
    assert split_reasoning('{"q": "why </think>?"}') == ("", '{"q": "why </think>?"}', None)
    value, err = parse_json('Sure: {"answer": "输出编码", "confidence": 0.9,}', Answer)
    assert value == {"answer": "输出编码", "confidence": 0.9} and err is None
    assert parse_json('{"answer": "x", "confidence": 7}', Answer)[1].startswith(
        "invalid json: confidence: Input should be less than or equal to 1")
    assert "JSON schema:\n{" in schema_instruction(Answer)


class Cited(BaseModel):
    """A nested model: its docstring is dropped as well."""

    quote: str


class Documented(BaseModel):
    """Developer notes: measured 7 -> 14 on the demo corpus."""

    title: str = Field(max_length=40)
    description: str = Field(description="one sentence, in the source's terms")
    inner: Cited


def test_wire_schema_drops_docstrings_and_titles_keeps_field_meaning() -> None:
    # Docstrings speak to the code's readers and cost prompt tokens on every request.
    sent = schema_instruction(Documented)
    assert "Developer notes" not in sent and "measured" not in sent and '"title":"' not in sent
    js = wire_schema(Documented)
    assert set(js["properties"]) == {"title", "description", "inner"}  # names are data
    assert js["properties"]["description"]["description"] == "one sentence, in the source's terms"
    assert js["properties"]["title"] == {"maxLength": 40, "type": "string"}
    assert js["$defs"]["Cited"] == {"properties": {"quote": {"type": "string"}},
                                    "required": ["quote"], "type": "object"}
    assert "nested model" not in sent and js["required"] == ["title", "description", "inner"]


def test_cache_second_run_sends_nothing(tmp_path: Path) -> None:
    jobs = [job("en", EN), job("zh", ZH)]
    with FakeLLM() as first:
        before = gateway(first, tmp_path, run_id="run-1").run(jobs)
    # A new server on another port: base_url is not part of the cache key.
    with FakeLLM() as second:
        gw = gateway(second, tmp_path, run_id="run-2")
        after = gw.run(jobs)
        assert second.requests == 0
    assert [r.cached for r in after] == [True, True] and after[0].attempts == 0
    assert [r.value for r in after] == [r.value for r in before]
    assert gw.usage["cache_hits"] == 2 and gw.usage["requests_sent"] == 0
    assert run_usage(tmp_path, "run-2") == {"llm_requests": 0, "cache_hits": 2,
                                            "prompt_tokens": 0, "completion_tokens": 0}
    first_run = run_usage(tmp_path, "run-1")
    assert first_run["llm_requests"] == 2 and first_run["cache_hits"] == 0
    assert first_run["prompt_tokens"] == sum(r.prompt_tokens for r in before) > 0


def test_identical_requests_in_one_run_are_paid_once(tmp_path: Path) -> None:
    with FakeLLM(latency_s=0.05) as fake:
        gw = gateway(fake, tmp_path, concurrency=4)
        first, twin, other = gw.run([job("doc1-chunk", EN), job("doc2-chunk", EN), job("x", ZH)])
        assert fake.requests == 2
    assert first.ok and twin.cached and twin.item_id == "doc2-chunk" and twin.value == first.value
    assert gw.usage["cache_hits"] == 1 and not other.cached


def test_run_usage_sums_gateways_on_several_threads(fake: FakeLLM, tmp_path: Path) -> None:
    gateways = [gateway(fake, tmp_path, run_id="shared") for _ in range(3)]
    threads = [threading.Thread(target=gw.run, args=([job(f"{i}", f"{EN} n{i}"),
                                                      job(f"z{i}", f"{ZH} n{i}")],))
               for i, gw in enumerate(gateways)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    usage = run_usage(tmp_path, "shared")
    assert usage["llm_requests"] == 6 == fake.requests and usage["cache_hits"] == 0
    assert usage["prompt_tokens"] == sum(gw.usage["prompt_tokens"] for gw in gateways) > 0
    assert run_usage(tmp_path, "another-run")["llm_requests"] == 0


def test_cache_key_covers_the_request(fake: FakeLLM, tmp_path: Path) -> None:
    gateway(fake, tmp_path).run([job("a", EN)])
    hot = LLMJob("a", job("a", EN).messages, Questions, temperature=0.9)
    (res,) = gateway(fake, tmp_path).run([hot])
    assert not res.cached and fake.requests == 2


def test_failures_are_not_cached(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("broken_json", times=2)
    (bad,) = gateway(fake, tmp_path).run([job("a", EN)])
    (good,) = gateway(fake, tmp_path).run([job("a", EN)])
    assert not bad.ok and good.ok and not good.cached and fake.requests == 3


def test_401_names_the_setting_and_hides_the_key(tmp_path: Path) -> None:
    secret = "sk-test-very-secret-123456"
    with FakeLLM(api_key="the-right-key") as fake:
        gw = gateway(fake, tmp_path, api_key=secret)
        (res,) = gw.run([job("a", EN)])
        assert fake.requests == 1  # not retried
    assert "SFTFORGE_LLM_API_KEY" in res.error and res.error.startswith("http 401")
    assert secret not in repr(res) and secret not in repr(gw.__dict__) and res.attempts == 1


async def test_run_inside_a_running_loop_and_acomplete(fake: FakeLLM, tmp_path: Path) -> None:
    gw = gateway(fake, tmp_path)
    (synced,) = gw.run([job("a", EN)])  # a loop is running here: the gateway uses a thread
    direct = await gw.acomplete(job("b", ZH))
    await gw.aclose()
    assert synced.ok and direct.ok and fake.requests == 2
    clone = pickle.loads(pickle.dumps(gw))
    assert (await clone.acomplete(job("b", ZH))).cached


def _rate_limit(headers: dict[str, str]) -> openai.RateLimitError:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(429, headers=headers, request=request)
    return openai.RateLimitError("slow down", response=response, body=None)


def test_retry_after_seconds_date_and_cap() -> None:
    assert _retry_after(_rate_limit({"retry-after": "7"})) == 7.0
    assert _retry_after(_rate_limit({"retry-after": "100000"})) == 120.0
    assert _retry_after(_rate_limit({"retry-after-ms": "250"})) == 0.25
    assert _retry_after(_rate_limit({"retry-after": "soon"})) is None
    assert _retry_after(_rate_limit({})) is None
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 20 < _retry_after(_rate_limit({"retry-after": when})) <= 30


def _failed(item_id: str, error: str, raw: str = "") -> LLMResult:
    return LLMResult(item_id, None, "", raw, error, 2, False)


def test_failure_ledger_round_trip(tmp_path: Path) -> None:
    db = str(tmp_path / "lancedb")
    assert failure_counts(db) == {}
    results = [
        _failed("q1", "invalid json: questions: Field required", "抱歉" * 5000),
        _failed("q2", "http 500 after 5 attempts"),
        LLMResult("q3", {"a": 1}, "", "{}", None, 1, False),
        _failed("q4", "timeout after 3 attempts (120s each)"),
    ]
    assert record_failures(db, "answers", "fp1", results, {"q1": "doc-a"}) == 3
    # The same failure on the next run updates its row instead of adding one.
    assert record_failures(db, "answers", "fp1", results[:1], {"q1": "doc-a"}) == 1
    rows = {r["item_id"]: r for r in store.read(db, "failures").to_dicts()}
    assert sorted(rows) == ["q1", "q2", "q4"] and len(rows["q1"]["raw_output"]) == 4000
    assert rows["q1"]["doc_id"] == "doc-a" and rows["q2"]["doc_id"] == ""
    assert rows["q2"]["attempts"] == 2 and rows["q1"]["failed_at"].startswith("20")
    assert failure_counts(db) == {"invalid json": 1, "http 500": 1, "timeout": 1}
    assert failure_counts(db, stage="questions") == {}
    clear_failures(db, "questions", ["q1"])  # another stage: untouched
    clear_failures(db, "answers", ["q1", "q2"])
    assert sorted(store.read(db, "failures")["item_id"].to_list()) == ["q4"]
    assert failure_category("truncated: finish_reason=length") == "truncated"
