"""The judge's self-check in a build: a lenient judge is reported and warned about, a strict one
is trusted, and the planted pairs never reach a release file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge.grounding.planted import planted_pairs
from tests.fakellm_values import default_content
from tests.pdf_fixtures import good_english_pdf

pytestmark = pytest.mark.usefixtures("prefect_server")


def _strict_judge(body: dict) -> str:
    """A judge that accepts only answers whose every sentence stands in the source word for
    word (a wrong number or a flipped claim is not there); other requests get the defaults."""
    prompt = body["messages"][-1]["content"]
    tags = dict(re.findall(r"<(source|answer)>\n?(.*?)\n?</\1>", prompt, flags=re.S))
    if set(tags) != {"source", "answer"}:
        return default_content(body)
    flat = lambda s: re.sub(r"\W+", "", s).lower()  # noqa: E731
    sentences = [s for s in re.split(r"(?<=[.!?。！？])\s*", tags["answer"]) if flat(s)]
    faithful = all(flat(s) in flat(tags["source"]) for s in sentences)
    score = 10 if faithful else 2
    return json.dumps({"clarity": 9, "faithfulness": score, "relevance": 9,
                       "completeness": score, "reason": "checked against the source",
                       "addresses_reviewer": False})


def _build(tmp_path: Path, name: str) -> dict:
    corpus = tmp_path / name / "corpus"
    corpus.mkdir(parents=True)
    good_english_pdf(corpus / "en.pdf")
    return build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / name / "out")))


def _no_planted_text(release: Path) -> None:
    texts = [p["answer"] for p in planted_pairs() if p["expect"] == "drop"]
    for path in release.rglob("*"):
        if path.is_file() and path.suffix in (".jsonl", ".json", ".md"):
            body = path.read_text("utf-8")
            assert "planted:" not in body and not any(t in body for t in texts), path.name


def test_lenient_judge_is_reported_strict_one_trusted(llm_env, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    llm_env.judge = "kind"  # scores 8 whatever it reads: every planted error passes
    lenient = _build(tmp_path, "lenient")
    check = lenient["judge_self_check"]
    assert (check["caught"], check["total"], check["trusted"]) == (0, 10, False)
    card = (Path(lenient["release_dir"]) / "README.md").read_text("utf-8")
    assert "the judge caught 0/10 planted errors" in card and "too lenient to be trusted" in card
    _no_planted_text(Path(lenient["release_dir"]))

    monkeypatch.setenv("SFTFORGE_HOME", str(tmp_path / "home-strict"))
    llm_env.responder = _strict_judge
    built = _build(tmp_path, "strict")
    strict = built["judge_self_check"]
    assert strict["total"] == 10 and strict["caught"] + len(strict["missed"]) == 10
    assert strict["caught"] >= 8 and strict["trusted"]
    card = (Path(built["release_dir"]) / "README.md").read_text("utf-8")
    assert f"the judge caught {strict['caught']}/10 planted errors" in card
    assert "too lenient" not in card
    _no_planted_text(Path(built["release_dir"]))
