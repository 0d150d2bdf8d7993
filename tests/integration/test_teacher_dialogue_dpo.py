"""A build against a teacher-style endpoint: Markdown answers with reasoning_content, multi-turn
follow-ups, DPO pairs with judge margins, a general-data mix and an EPUB book (real Prefect
server, real LanceDB, the scripted OpenAI-compatible server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge.formats import read_rows, row_problems, to_record
from tests.epub_fixtures import write_epub
from tests.fakellm import FakeLLM, default_content
from tests.fakellm_realism import is_judge_request, tagged
from tests.fakellm_values import _last_user
from tests.integration.conftest import read_jsonl
from tests.pdf_fixtures import good_english_pdf

pytestmark = pytest.mark.usefixtures("prefect_server")

REASONING = "The learner asks how; I list the steps of a parameterized query and show code."
CODE = "```python\ncur.execute(\"SELECT * FROM users WHERE id = %s\", (user_id,))\n```"
PLANTED = "Escaping quotes by hand is always enough, so prepared statements are never needed."
ZH_PLANTED = "只要在前端过滤脚本标签就足够了，完全不需要输出编码。"


def teacher_answer(passage: str) -> str:
    """A long Markdown answer built from the passage: list, table, code, > 2000 characters."""
    sentences = [s.strip() for s in passage.replace("\n", " ").split(". ") if s.strip()]
    bullets = "\n".join(f"- {s.rstrip('.')}." for s in sentences)
    table = "| step | why |\n|---|---|\n" + "\n".join(
        f"| {i + 1} | {s[:60].rstrip('.')} |" for i, s in enumerate(sentences[:4]))
    body = f"## Key points\n\n{bullets}\n\n{table}\n\n{CODE}\n"
    while len(body) < 2100:
        body += f"\n### In practice\n\n{bullets}\n"
    return body


def responder(body: dict[str, Any]) -> str | dict[str, Any]:
    prompt = _last_user(body)
    system = body["messages"][0]["content"]
    blocks = tagged(prompt)
    if is_judge_request(prompt):
        planted = blocks["answer"] in (PLANTED, ZH_PLANTED)
        # The Chinese planted error scores close to its chosen answer: that pair is left out.
        low = {"clarity": 8, "faithfulness": 2, "relevance": 4, "completeness": 2} if \
            blocks["answer"] == PLANTED else {"clarity": 8, "faithfulness": 7, "relevance": 7,
                                              "completeness": 7}
        scores = low if planted else {"clarity": 8, "faithfulness": 8, "relevance": 8,
                                      "completeness": 8}
        return json.dumps({**scores, "reason": "scripted", "addresses_reviewer": False})
    if "deliberately flawed answers" in system:
        return ZH_PLANTED if "跨站" in prompt or "脚本" in prompt else PLANTED
    if "patient teacher" in system:  # free-text answer request
        quote = max(blocks["passage"].splitlines(), key=len)[:60].strip()
        return {"content": teacher_answer(blocks["passage"]) + f"\n\nQUOTES:\n> {quote}",
                "reasoning_content": REASONING}
    return default_content(body)


ZH = ["跨站脚本攻击利用未转义的输出，攻击者把脚本注入页面，在受害者的浏览器中执行。",
      "防御跨站脚本攻击的关键是对输出进行上下文相关的编码，并配合内容安全策略。",
      "内容安全策略可以限制页面能加载的脚本来源，从而降低注入脚本的危害。"]


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good_english_pdf(corpus / "handbook_en.pdf")
    write_epub(corpus / "xss_book.epub", "跨站脚本攻击",
               [("第一章 跨站脚本攻击", ZH, "zh"), ("第二章 内容安全策略", ZH[1:] + ZH[:1], "zh")])
    return corpus


def _general(tmp_path: Path) -> Path:
    path = tmp_path / "general.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"General question {i}?"},
                          {"role": "assistant", "content": f"General answer {i}."}]}
            for i in range(200)]
    path.write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    return path


def test_teacher_build_with_dialogues_dpo_general_mix_and_epub(llm_env: FakeLLM, tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("SFTFORGE_ANSWERS__MODE", "auto")  # a remote endpoint: free text
    llm_env.responder = responder
    params = BuildParams(
        input_path=str(_corpus(tmp_path)), out_dir=str(tmp_path / "out"),
        dialogues={"enabled": "on", "follow_ups": 2},
        preferences={"enabled": "on", "margin": 2.0},
        export={"general": {"path": str(_general(tmp_path)), "ratio": 0.25}})
    summary = build_dataset(params)
    release = Path(summary["release_dir"])
    samples = read_jsonl(release / "samples.jsonl")
    assert {s["source"] for s in samples} == {"handbook_en.pdf", "xss_book.epub"}

    # Teacher answers: the whole Markdown answer, the CoT from reasoning_content.
    en = [s for s in samples if s["source"] == "handbook_en.pdf"]
    assert en and all(s["cot"] == REASONING for s in en)
    assert all(len(s["answer"]) > 2000 and CODE in s["answer"] and "QUOTES" not in s["answer"]
               for s in en)
    assert all(s["citations"] for s in en)  # the trailing quote, verified in the chunk
    # EPUB: chapters as headings, chapter number as location.
    book = [s for s in samples if s["source"] == "xss_book.epub"]
    assert book and {s["page"] for s in book} <= {1, 2}

    # Multi-turn: 2 follow-ups per sample, every row valid, all three forms the same dialogue.
    assert all(len(s["turns"]) == 2 for s in samples)
    assert summary["dialogues"]["by_turns"] == {"3": len(samples)}
    for split in {s["split"] for s in samples}:
        forms = {}
        for fmt, stem in (("alpaca", "alpaca"), ("sharegpt", "sharegpt"), ("messages", "openai")):
            rows = read_rows(release / f"{stem}_{split}_nocot.jsonl")
            assert all(not row_problems(r, fmt) for _, r in rows), (fmt, split)
            forms[fmt] = [to_record(r, fmt).messages for _, r in rows]
        assert forms["alpaca"] == forms["sharegpt"] == forms["messages"]

    # DPO: English pairs kept (margin 8 - 4 = 4), Chinese ones left out (8 - 7 = 1 < 2).
    pairs = [s for s in samples if s.get("rejected")]
    assert pairs and {s["source"] for s in pairs} == {"handbook_en.pdf"}
    for s in pairs:
        assert s["rejected"] == PLANTED != s["answer"]
        assert s["preference"] == {"kind": "planted_error", "chosen_score": 8.0,
                                   "rejected_score": 4.0, "margin": 4.0}
    stage = summary["stages"]["pairs"]
    assert stage["dropped"] == {"margin_under_2": len(book)} and stage["kept"] == len(pairs)
    _check_dpo_files(release, pairs)

    # General mix: 25% of train, none in val/test.
    mix = summary["general_mix"]
    train = sum(1 for s in samples if s["split"] == "train")
    assert mix["splits"]["train"]["domain"] == train and set(mix["splits"]) == {"train"}
    assert mix["splits"]["train"]["general"] == round(train / 3)
    for split in {"val", "test"} & {s["split"] for s in samples}:
        rows = read_jsonl(release / f"openai_{split}.jsonl")
        assert not any("General question" in json.dumps(r) for r in rows)
    card = (release / "README.md").read_text("utf-8")
    assert "## General data mixed in" in card and "## Preference pairs (DPO)" in card
    assert "## Multi-turn dialogues" in card

    # A second build pays for nothing: follow-ups, rejected answers and their scores are done.
    sent = llm_env.requests
    again = build_dataset(params)
    assert llm_env.requests == sent and again["llm_requests"] == 0
    assert again["version"] == summary["version"]


def _check_dpo_files(release: Path, pairs: list[dict]) -> None:
    info = json.loads((release / "dataset_info.json").read_text("utf-8"))
    by_split: dict[str, list[dict]] = {}
    for s in pairs:
        by_split.setdefault(s["split"], []).append(s)
    for split, group in by_split.items():
        group.sort(key=lambda s: s["sample_id"])
        alpaca = read_jsonl(release / f"dpo_alpaca_{split}.jsonl")
        assert alpaca == [{"instruction": s["question"], "input": "", "chosen": s["answer"],
                           "rejected": s["rejected"]} for s in group]
        assert info[f"sftforge_dpo_alpaca_{split}"] == {
            "file_name": f"dpo_alpaca_{split}.jsonl", "ranking": True,
            "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen",
                        "rejected": "rejected"}}
        share = read_jsonl(release / f"dpo_sharegpt_{split}.jsonl")
        assert share == [{"conversations": [{"from": "human", "value": s["question"]}],
                          "chosen": {"from": "gpt", "value": s["answer"]},
                          "rejected": {"from": "gpt", "value": s["rejected"]}} for s in group]
        entry = info[f"sftforge_dpo_sharegpt_{split}"]
        assert entry["ranking"] is True and entry["formatting"] == "sharegpt"
        assert entry["columns"] == {"messages": "conversations", "chosen": "chosen",
                                    "rejected": "rejected"}
        assert entry["tags"]["user_tag"] == "human" and entry["tags"]["assistant_tag"] == "gpt"
        swift = read_jsonl(release / f"swift_dpo_{split}.jsonl")
        assert swift == [{"messages": [{"role": "user", "content": s["question"]},
                                       {"role": "assistant", "content": s["answer"]}],
                          "rejected_response": s["rejected"]} for s in group]
        assert f"sftforge_swift_dpo_{split}" not in info  # ms-swift reads the file by path
