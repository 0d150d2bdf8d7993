"""Rejection sampling of grammar-constrained replies (sftforge/llm/grammar_sampling.py) on the
embedded model itself: the sampled token is checked against the grammar, the whole vocabulary
only when the grammar rejects it, and every reply still satisfies the grammar."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from sftforge.llm.local import local_llm_available, model_path
from tests.conftest import shared_models_dir

# Values the model would never write unprompted: its first pick is rejected at least once, so
# the fallback (grammar over the whole vocabulary) is exercised, not only the fast path.
SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "enum": ["zqxv-17", "wkkp-42"]},
        "count": {"type": "integer"},  # (llama.cpp's grammar ignores minimum/maximum)
        "answer": {"type": "string", "maxLength": 80},
    },
    "required": ["code", "count", "answer"],
}
PROMPT = ("<|im_start|>user\nWhat is SQL injection? Reply in JSON with a code, a count and a "
          "short answer.<|im_end|>\n<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The embedded model in this process; ``install``'s patch of ``Llama`` is undone after
    the module (the server installs it in its own process, never in the test process)."""
    ok, why = local_llm_available()
    if not ok:
        pytest.fail(why)
    from llama_cpp import Llama

    path = model_path(tmp_path_factory.mktemp("home"), models_dir=shared_models_dir())
    original = Llama._init_sampler
    yield Llama(model_path=str(path), n_ctx=512, n_threads=1, verbose=False, seed=7)
    Llama._init_sampler = original  # type: ignore[method-assign]


@pytest.mark.e2e
@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_replies_satisfy_the_grammar_and_rejected_tokens_are_resampled(
        llama, temperature: float) -> None:  # type: ignore[no-untyped-def]
    from llama_cpp import LlamaGrammar

    from sftforge.llm.grammar_sampling import RejectionSampler, install

    install()
    install()  # idempotent: one wrapper, not two
    grammar = LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
    out = llama.create_completion(PROMPT, grammar=grammar, max_tokens=80,
                                  temperature=temperature)
    reply = json.loads(out["choices"][0]["text"])
    assert reply["code"] in SCHEMA["properties"]["code"]["enum"]
    assert isinstance(reply["count"], int) and len(reply["answer"]) <= 80
    sampler = llama._sampler
    assert isinstance(sampler, RejectionSampler)
    # Most tokens pass the one-token check; the enum forced at least one full-vocabulary pass.
    assert 0 < sampler.rejected < sampler.sampled


@pytest.mark.e2e
def test_replies_without_a_grammar_use_the_plain_chain(llama) -> None:  # type: ignore[no-untyped-def]
    from sftforge.llm.grammar_sampling import RejectionSampler, install

    install()
    out = llama.create_completion(PROMPT, max_tokens=8, temperature=0.0)
    assert out["choices"][0]["text"]
    assert not isinstance(llama._sampler, RejectionSampler)
