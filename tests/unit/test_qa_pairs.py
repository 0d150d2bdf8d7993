"""Per-chunk generation and judging: schemas, mode choice and grouping (no LLM)."""

from __future__ import annotations

import json

import pydantic
import pytest

from sftforge.llm.prompting import render
from tasks.judge_chunks import MAX_PAIRS_PER_REQUEST, group_by_chunk, verdicts_schema
from tasks.qa_pairs import GenerationSettings, qa_schema, resolve_mode
from tests.unit.test_llm_stages import _string_bounds


@pytest.mark.parametrize("model", [qa_schema(5), verdicts_schema(MAX_PAIRS_PER_REQUEST)])
def test_per_chunk_schemas_bound_every_string_for_llama_cpp(model: type) -> None:
    bounds = _string_bounds(model.model_json_schema())
    assert bounds and all(b is not None and b <= 1000 for b in bounds), bounds


def test_qa_schema_wants_exactly_n_pairs() -> None:
    pair = {"quote": "WAFs block malicious requests.", "question": "What does a WAF block?",
            "reasoning": "r", "answer": "Malicious requests."}
    assert len(qa_schema(2).model_validate({"pairs": [pair, pair]}).pairs) == 2
    for wrong in ([pair], [pair, pair, pair]):
        with pytest.raises(pydantic.ValidationError):
            qa_schema(2).model_validate({"pairs": wrong})


@pytest.mark.parametrize("mode,embedded,expected", [
    ("auto", True, "per_chunk"), ("auto", False, "per_question"),
    ("per_question", True, "per_question"), ("per_chunk", False, "per_chunk"),
])
def test_auto_mode_is_per_chunk_on_the_embedded_model(mode: str, embedded: bool,
                                                      expected: str) -> None:
    assert resolve_mode(GenerationSettings(mode=mode), embedded) == expected


def _sample(sid: str, chunk: str) -> dict:
    return {"sample_id": sid, "chunk_id": chunk, "doc_id": "d1", "text": f"text of {chunk}",
            "question": f"q{sid}", "answer": f"a{sid}", "kept": True}


def test_judge_groups_follow_chunks_and_split_large_chunks() -> None:
    rows = [_sample(f"s{i:02d}", "c2") for i in range(MAX_PAIRS_PER_REQUEST + 1)]
    groups = group_by_chunk([_sample("s99", "c1"), *rows])
    assert [g["group_id"] for g in groups] == ["c1", "c2", f"c2:{MAX_PAIRS_PER_REQUEST}"]
    assert [len(g["samples"]) for g in groups] == [1, MAX_PAIRS_PER_REQUEST, 1]
    assert groups[1]["samples"][0] == {"sample_id": "s00", "chunk_id": "c2", "doc_id": "d1",
                                       "question": "qs00", "answer": "as00", "kept": True}
    assert groups[1]["text"] == "text of c2"


def test_rows_without_a_chunk_group_by_their_source_text() -> None:
    planted = [{"sample_id": f"p{i}", "text": "same source", "question": "q", "answer": "a"}
               for i in range(2)] + [{"sample_id": "p9", "text": "other", "question": "q",
                                      "answer": "a"}]
    groups = group_by_chunk(planted)
    assert sorted(len(g["samples"]) for g in groups) == [1, 2]
    assert all(g["doc_id"] == "" and g["group_id"].startswith("text:") for g in groups)


def test_prompts_put_the_passage_before_what_differs() -> None:
    # The shared part (system + passage) first, so a server's prompt cache can reuse it.
    user = render("judge_chunks", text="中文段落。", pairs=[{"question": "问？", "answer": "答。"}])[1]
    assert user["content"].startswith("<source>\n中文段落。\n</source>")
    qa = render("qa_pairs", text="Passage.", heading_path="A", n=2, language_name="English",
                slots=[("factual", "easy"), ("reasoning", "hard")])[1]
    assert qa["content"].index("<passage>") < qa["content"].index("Write exactly 2")


def test_per_chunk_pairs_follow_the_question_plan() -> None:
    from tasks.qa_pairs import QAPairsStage

    slots = [("factual", "easy"), ("code", "hard")]
    row = {"chunk_id": "c1", "doc_id": "d1", "text": "WAFs block requests. Example: deny all.",
           "heading_path": "WAF", "n_tokens": 300, "lang": "en", "slots": slots,
           "output_fingerprint": "fp", "output_model": "m", "source": "a.pdf", "page_start": 1}
    stage = QAPairsStage()
    stage.settings.max_per_chunk = 2
    prompt = stage.format_input(row)[-1]["content"]
    assert "1. type: factual, difficulty: easy\n2. type: code, difficulty: hard" in prompt
    assert "qtype" not in qa_schema(2).model_json_schema()["$defs"]["QAPair"]["properties"]
    pair = {"quote": "WAFs block requests.", "question": "What does a WAF block?",
            "reasoning": "r", "answer": "Requests."}
    rows = stage.format_output({"pairs": [pair, {**pair, "quote": " "}]}, row)
    assert [(r["qtype"], r["difficulty"]) for r in rows] == slots
    # The pair's quote is its citation, located in the chunk; an empty one is none.
    cited = [[(c["quote"], c["start"]) for c in json.loads(r["citations"])] for r in rows]
    assert cited == [[("WAFs block requests.", 0)], []]


def test_pairs_are_generated_evidence_first() -> None:
    # llama.cpp's grammar writes required fields in schema order: the quote before the question
    # and the answer, so the model asks and answers about a sentence it has just copied.
    pair = qa_schema(1).model_json_schema()["$defs"]["QAPair"]
    assert list(pair["properties"]) == ["quote", "question", "reasoning", "answer"]
    assert pair["required"] == ["quote", "question", "reasoning", "answer"]
    system = render("qa_pairs", text="P.", heading_path="", n=1, language_name="English",
                    slots=[("factual", "easy")])[0]["content"]
    assert system.index('"quote"') < system.index('"question"') < system.index('"answer"')
