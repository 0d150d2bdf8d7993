"""Grammar-constrained sampling that checks the sampled token, not the whole vocabulary.

llama-cpp-python 0.3.x puts the JSON-schema grammar in the sampler chain ahead of top-k, so for
every generated token llama.cpp matches all ~152k vocabulary pieces of the model against the
grammar: ~25 ms per token on 2 cores, about a third of the generation time of a JSON reply
(measured on the embedded model: 8 s of a 26 s, 319-token reply; 0.5 s with no grammar).
llama.cpp's own server samples the other way round: first without the grammar, then checks that
one token against it, and only when the grammar rejects it applies the grammar to the whole
vocabulary and samples again. :func:`install` gives the embedded server (``sftforge.llm.local``,
in its own process) that order; replies still always satisfy the grammar.

Input: the sampler settings llama-cpp-python passes to ``Llama._init_sampler``. Output: a
sampler with the same ``sample(ctx, idx)`` as ``llama_cpp._internals.LlamaSampler``.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import llama_cpp
from llama_cpp import llama as llama_module
from llama_cpp._internals import LlamaContext, LlamaSampler


class RejectionSampler:
    """Samples with ``free`` (the chain without the grammar); a token the grammar rejects is
    sampled again with ``full`` (the same chain with the grammar). Every emitted token is
    accepted by ``full``, so its grammar and penalty state follow the reply. ``free`` also keeps
    a rejected token in its penalty history (llama.cpp has no un-accept): on a rejection step
    that token is penalised a little for the next tokens, a bias llama.cpp's server has too."""

    def __init__(self, free: LlamaSampler, full: LlamaSampler) -> None:
        self.free, self.full = free, full
        self.grammar = _grammar_of(full)
        self.sampled = self.rejected = 0
        self._cell = llama_cpp.llama_token_data(id=0, logit=0.0, p=0.0)
        self._one = llama_cpp.llama_token_data_array(
            data=ctypes.pointer(self._cell), size=1, selected=-1, sorted=False)

    def allowed(self, token: int) -> bool:
        """True when the grammar, in its current state, accepts ``token`` next."""
        self._cell.id, self._cell.logit, self._cell.p = token, 1.0, 0.0
        self._one.size, self._one.selected = 1, -1
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(self._one))
        return not math.isinf(self._cell.logit)

    def sample(self, ctx: LlamaContext, idx: int = -1) -> int:
        """The next token, sampled at position ``idx`` of ``ctx``'s logits."""
        self.sampled += 1
        token = self.free.sample(ctx, idx)
        if self.allowed(token):
            self.full.accept(token)
            return token
        self.rejected += 1
        return self.full.sample(ctx, idx)  # grammar over the whole vocabulary, then accept

    def __getattr__(self, name: str) -> Any:  # reset, get_seed, close...: the full chain's
        return getattr(self.full, name)


def _grammar_of(chain: LlamaSampler) -> Any:
    """The grammar sampler inside ``chain`` (it stays owned, and freed, by the chain)."""
    for i in range(llama_cpp.llama_sampler_chain_n(chain.sampler)):
        member = llama_cpp.llama_sampler_chain_get(chain.sampler, i)
        if llama_cpp.llama_sampler_name(member) == b"grammar":
            return member
    raise ValueError("the sampler chain has no grammar")


def install() -> None:
    """Make ``llama_cpp.Llama`` sample grammar-constrained replies with
    :class:`RejectionSampler` (idempotent; replies without a grammar are unchanged)."""
    original = llama_module.Llama._init_sampler
    if getattr(original, "rejection_sampling", False):
        return

    def init_sampler(self: llama_module.Llama, *args: Any, **kwargs: Any) -> Any:
        full = original(self, *args, **kwargs)
        if kwargs.get("grammar") is None:
            return full
        return RejectionSampler(original(self, *args, **{**kwargs, "grammar": None}), full)

    init_sampler.rejection_sampling = True  # type: ignore[attr-defined]
    llama_module.Llama._init_sampler = init_sampler  # type: ignore[method-assign]
