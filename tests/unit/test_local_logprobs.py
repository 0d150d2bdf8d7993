"""One-token log-probabilities from the embedded model without ``logits_all``
(sftforge/llm/local_logprobs.py), on the model itself: the OpenAI chat shape the gateway reads,
P(yes) that follows the facts, and a second check that re-evaluates only its own tokens."""

from __future__ import annotations

from typing import Iterator

import pytest

from sftforge.llm.local import local_llm_available, model_path
from sftforge.llm.yes_no import p_yes_from_top
from tests.conftest import shared_models_dir

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The embedded model in this process, with the patch; undone after the module."""
    ok, why = local_llm_available()
    if not ok:
        pytest.fail(why)
    from llama_cpp import Llama

    from sftforge.llm import local_logprobs

    path = model_path(tmp_path_factory.mktemp("home"), models_dir=shared_models_dir())
    original = Llama.create_completion
    local_logprobs.install()
    local_logprobs.install()  # idempotent
    yield Llama(model_path=str(path), n_ctx=512, n_threads=1, verbose=False, logits_all=False)
    Llama.create_completion = original  # type: ignore[method-assign]


PASSAGE = ("Paris is the capital and largest city of France. It lies on the Seine river in the "
           "north of the country. Berlin is the capital of Germany; Madrid is the capital of "
           "Spain, and Rome is the capital of Italy.")


def _ask(llama, question: str) -> float:  # type: ignore[no-untyped-def]
    """P(yes) to ``question`` about PASSAGE, asked as the verifier asks (passage first)."""
    messages = [{"role": "system", "content": "You answer questions about a passage."},
                {"role": "user", "content": f"<source>\n{PASSAGE}\n</source>\n\n{question} "
                 "Reply with one word: yes or no."}]
    out = llama.create_chat_completion(messages=messages, max_tokens=1, temperature=0,
                                       logprobs=True, top_logprobs=10)
    first = out["choices"][0]["logprobs"]["content"][0]
    top = [(t["token"], t["logprob"]) for t in first["top_logprobs"]]
    assert len(top) == 10 and first["token"] == out["choices"][0]["message"]["content"]
    p = p_yes_from_top(top)
    assert p is not None, top
    return p


def test_yes_no_probabilities_without_logits_all(llama) -> None:  # type: ignore[no-untyped-def]
    evaluated: list[int] = []
    eval_tokens = type(llama).eval
    type(llama).eval = lambda self, tokens: (evaluated.append(len(tokens)),  # type: ignore
                                             eval_tokens(self, tokens))[1]
    try:
        paris = _ask(llama, "Is Paris the capital of France?")
        first = evaluated[-1]
        berlin = _ask(llama, "Is Berlin the capital of France?")
        assert evaluated[-1] < first / 3  # the shared passage was not evaluated again
        # A 1.5B model leans to yes (hence calibrated thresholds), but ranks the truth higher.
        # Measured: 0.997 and 0.734, the same as llama-cpp-python's own logits_all path.
        assert paris > 0.95 and berlin < paris - 0.15
    finally:
        type(llama).eval = eval_tokens  # type: ignore[method-assign]
    # an ordinary completion after it still works from the same cache
    text = llama.create_completion("The capital of France is", max_tokens=3, temperature=0)
    assert "Paris" in text["choices"][0]["text"]
