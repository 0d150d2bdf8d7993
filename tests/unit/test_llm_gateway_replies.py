"""Replies real models and gateways send, over real HTTP to the scripted server: each one is
repaired, re-asked, retried or ends in the failure ledger (a real LanceDB) with its reason and
raw text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from sftforge import store
from sftforge.llm.failures import failure_counts, record_failures
from sftforge.llm.gateway import LLMGateway, LLMResult
from tests.fakellm import FakeLLM, default_content
from tests.unit.test_llm_gateway import EN, ZH, gateway, job


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def ledger(tmp_path: Path, results: list[LLMResult]) -> dict[str, dict]:
    """Write failed results to a real ``failures`` table; its rows by item id."""
    db = str(tmp_path / "lancedb")
    record_failures(db, "questions", "fp", results, {r.item_id: "doc-1" for r in results})
    return {r["item_id"]: r for r in store.read(db, "failures").to_dicts()}


def expected_value(gw: LLMGateway, text: str) -> dict:
    """What the scripted model answers to ``job(text)`` when nothing goes wrong."""
    return json.loads(default_content(gw.build_request(job("x", text))))


@pytest.mark.parametrize("kind, error", [
    ("wrong_count",
     "invalid json: questions: List should have at most 2 items after validation, not 3"),
    ("out_of_range",  # a difficulty of 11 on a 1-10 scale
     "invalid json: questions.0.difficulty: Input should be less than or equal to 10"),
    ("missing_field", "invalid json: questions: Field required"),
])
def test_schema_breaking_reply_is_reasked_then_ledgered(fake: FakeLLM, tmp_path: Path,
                                                        kind: str, error: str) -> None:
    fake.add_fault(kind, times=1, match="alpha")   # the re-ask fixes it
    fake.add_fault(kind, times=-1, match="beta")   # the model keeps breaking the schema
    gw = gateway(fake, tmp_path)
    fixed, broken = gw.run([job("a", f"alpha {EN}"), job("b", f"beta {ZH}")])
    assert fixed.ok and fixed.attempts == 2 and fixed.value == expected_value(gw, f"alpha {EN}")
    assert (broken.ok, broken.error, broken.attempts, fake.requests) == (False, error, 2, 4)
    reask = next(b for b in fake.log if len(b["messages"]) == 4 and "alpha" in json.dumps(b))
    assert error in reask["messages"][-1]["content"]
    row = ledger(tmp_path, [fixed, broken])
    assert list(row) == ["b"] and row["b"]["error"] == error and row["b"]["attempts"] == 2
    raw = json.loads(row["b"]["raw_output"])  # the model's own (second) reply, kept whole
    good = expected_value(gw, f"beta {ZH}")
    if kind == "wrong_count":
        assert raw["questions"] == good["questions"] + good["questions"][-1:]
    elif kind == "out_of_range":
        assert raw["questions"][0]["difficulty"] == 11
        assert raw["questions"][1:] == good["questions"][1:]
    else:
        assert raw == {}


def test_json_in_prose_is_repaired_without_reask(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("json_in_prose", times=-1)
    gw = gateway(fake, tmp_path)
    en, zh = gw.run([job("en", EN), job("zh", ZH)])
    assert en.raw.startswith("Sure! Here is the JSON you asked for:\n{")
    assert en.raw.endswith("}\nLet me know if you need anything else.")
    assert (en.value, zh.value) == (expected_value(gw, EN), expected_value(gw, ZH))
    assert (en.attempts, zh.attempts, fake.requests) == (1, 1, 2)


def test_repetition_to_max_tokens_is_truncated_not_reasked(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("repetition", times=-1)
    (res,) = gateway(fake, tmp_path, max_tokens=300).run([job("a", EN)])
    assert res.error == "truncated: finish_reason=length (raise max_tokens, now 300)"
    assert res.attempts == 1 and fake.requests == 1 and len(res.raw) == 1200
    assert set(res.raw[-600:].split()[1:]) == {"and", "the", "attacker"}  # the loop, kept
    row = ledger(tmp_path, [res])["a"]
    assert row["error"] == res.error and row["raw_output"] == res.raw
    assert failure_counts(str(tmp_path / "lancedb")) == {"truncated": 1}


def test_200_with_an_error_body_is_retried_then_ledgered(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("error_body", times=1, match="alpha")
    fake.add_fault("error_body", times=-1, match="beta")
    ok, bad = gateway(fake, tmp_path).run([job("a", f"alpha {EN}"), job("b", f"beta {ZH}")])
    assert ok.ok and ok.attempts == 2
    assert bad.error == ("api error after 3 attempts: error object in a 200 reply: "
                         "The model is overloaded, try again later")
    assert json.loads(bad.raw) == {"error": {"message": "The model is overloaded, try again later",
                                             "type": "server_error", "code": 503}}
    row = ledger(tmp_path, [ok, bad])["b"]
    assert (row["error"], row["raw_output"], row["attempts"]) == (bad.error, bad.raw, 3)
    assert failure_counts(str(tmp_path / "lancedb")) == {"api error": 1}


def test_html_502_is_retried_then_failed_with_the_page_kept(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("html_502", times=2, match="alpha")
    fake.add_fault("html_502", times=-1, match="beta")
    ok, bad = gateway(fake, tmp_path).run([job("a", f"alpha {EN}"), job("b", f"beta {ZH}")])
    assert ok.ok and ok.attempts == 3
    assert (bad.error, bad.attempts, fake.requests) == ("http 502 after 3 attempts", 3, 6)
    row = ledger(tmp_path, [ok, bad])["b"]
    assert row["error"] == "http 502 after 3 attempts"
    assert "<title>502 Bad Gateway</title>" in row["raw_output"]


def test_connection_reset_mid_body_is_retried(fake: FakeLLM, tmp_path: Path) -> None:
    fake.add_fault("reset", times=1, match="alpha")
    fake.add_fault("reset", times=-1, match="beta")
    ok, bad = gateway(fake, tmp_path).run([job("a", f"alpha {EN}"), job("b", f"beta {ZH}")])
    assert ok.ok and ok.attempts == 2 and ok.value == expected_value(
        gateway(fake, tmp_path), f"alpha {EN}")
    assert bad.error.startswith("connection error after 3 attempts") and bad.attempts == 3
    assert fake.requests == 5
    assert ledger(tmp_path, [bad])["b"]["error"] == bad.error
