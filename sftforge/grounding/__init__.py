"""Checks that make a sample verifiable without trusting the judge: citations located in the
chunk (``citations``), a deterministic grounding score (``score``), CoT/answer hygiene
(``cot``) and the judge's self-check on planted errors (``planted``)."""
