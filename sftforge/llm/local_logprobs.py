"""Next-token log-probabilities from the embedded server without ``logits_all``.

llama-cpp-python 0.3.x returns ``logprobs`` only for a model created with ``logits_all=True``,
which keeps the logits of every prompt position (n_ctx x 152k floats, ~2.5 GB at 4096 tokens)
and computes the output layer for every prompt token of every request of every stage. The
verifier needs only the first generated token's distribution, which llama.cpp computes anyway
for the last prompt position. :func:`install` (run in the server process,
``sftforge.llm.local``) answers a completion that asks for ``logprobs`` with ``max_tokens=1``
from those logits: the prompt is evaluated after the longest prefix it shares with the previous
request (the same prompt cache ``Llama.generate`` uses, so a pair's checks evaluate the passage
once), and the reply is the greedy token with the top-k alternatives in the completion shape
the chat handler turns into OpenAI chat ``logprobs``. Other requests are unchanged.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import llama as llama_module


def prompt_tokens(llama: Any, prompt: str | list[int]) -> list[int]:
    """The prompt's tokens as ``Llama._create_completion`` makes them: the chat handler of
    0.3.36 passes tokens already; a text gets BOS if the model adds one, and its special tokens
    of the chat template parsed."""
    if not isinstance(prompt, str):
        return [int(t) for t in prompt]
    bos = [llama.token_bos()] if llama._model.add_bos_token() and llama.token_bos() >= 0 else []
    return bos + llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)


def evaluate(llama: Any, tokens: list[int]) -> None:
    """Evaluate ``tokens``, reusing the prefix already in the KV cache; the last token is
    always evaluated so its logits are fresh."""
    keep = 0
    if llama.n_tokens:
        keep = llama_module.Llama.longest_token_prefix(llama._input_ids.tolist(), tokens)
    llama.n_tokens = max(0, min(keep, len(tokens) - 1))
    llama.eval(tokens[llama.n_tokens:])  # eval() drops the KV cells past n_tokens first


def last_logprobs(llama: Any) -> np.ndarray:
    """Log-softmax of the logits at the last evaluated position."""
    raw = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
    logits = np.ctypeslib.as_array(raw, shape=(llama.n_vocab(),)).astype(np.float64)
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def next_token_completion(llama: Any, prompt: str | list[int], top: int,
                          model: str) -> dict[str, Any]:
    """A one-token text completion with the top-``top`` log-probabilities of that token."""
    tokens = prompt_tokens(llama, prompt)
    evaluate(llama, tokens)
    logprobs = last_logprobs(llama)
    best = np.argsort(-logprobs)[:max(1, top)]
    pieces = [llama.detokenize([int(i)], prev_tokens=tokens).decode("utf-8", "ignore")
              for i in best]
    alternatives: dict[str, float] = {}
    for piece, i in zip(pieces, best):
        alternatives.setdefault(piece, float(logprobs[i]))  # the likelier of equal pieces
    text = pieces[0]
    return {
        "id": f"cmpl-{uuid.uuid4()}", "object": "text_completion", "created": int(time.time()),
        "model": model,
        "choices": [{"text": text, "index": 0, "finish_reason": "length", "logprobs": {
            "tokens": [text], "text_offset": [len(prompt) if isinstance(prompt, str) else 0],
            "token_logprobs": [float(logprobs[best[0]])], "top_logprobs": [alternatives]}}],
        "usage": {"prompt_tokens": len(tokens), "completion_tokens": 1,
                  "total_tokens": len(tokens) + 1},
    }


def wants_next_token(llama: Any, kwargs: dict[str, Any]) -> bool:
    """True for a request this module answers: logprobs of one token, no logits_all, no
    stream or grammar (those keep llama-cpp-python's own path)."""
    return (bool(kwargs.get("logprobs")) and kwargs.get("max_tokens") == 1
            and not llama._logits_all and not kwargs.get("stream")
            and kwargs.get("grammar") is None and kwargs.get("suffix") is None
            and isinstance(kwargs.get("prompt"), (str, list)) and bool(kwargs.get("prompt")))


def install() -> None:
    """Make ``Llama.create_completion`` answer one-token logprobs requests from the last
    position's logits (idempotent)."""
    original = llama_module.Llama.create_completion
    if getattr(original, "next_token_logprobs", False):
        return

    def create_completion(self: Any, *args: Any, **kwargs: Any) -> Any:
        if args:  # prompt given positionally (the chat handlers pass keywords)
            kwargs = {"prompt": args[0], **kwargs}
            args = ()
        if wants_next_token(self, kwargs):
            model = kwargs.get("model") or self.model_path
            return next_token_completion(self, kwargs["prompt"], int(kwargs["logprobs"]), model)
        return original(self, **kwargs)

    create_completion.next_token_logprobs = True  # type: ignore[attr-defined]
    llama_module.Llama.create_completion = create_completion  # type: ignore[method-assign]
