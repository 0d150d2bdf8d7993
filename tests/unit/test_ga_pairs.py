"""GA pairs: off on the embedded model unless asked for; exact count per document."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sftforge.llm.local import MODEL_ALIAS
from sftforge.settings import EndpointSpec
from sftforge.stage import BuildContext
from tasks.ga_pairs import GASettings, pair_schema


def _ctx(model: str) -> BuildContext:
    spec = EndpointSpec(base_url="http://127.0.0.1:9/v1", model=model)
    return BuildContext(db_uri="db", home="home", run_id="r", endpoints={"question": spec})


def test_pairs_are_off_on_the_embedded_model_unless_asked_for() -> None:
    assert GASettings().pairs_for(_ctx("gpt-4o-mini")) == 3
    assert GASettings().pairs_for(_ctx(MODEL_ALIAS)) == 0
    assert GASettings(on_embedded=True, pairs_per_doc=1).pairs_for(_ctx(MODEL_ALIAS)) == 1


def test_reply_must_hold_exactly_n_pairs() -> None:
    pair = {"genre": "exam question", "audience": "undergraduate students"}
    assert len(pair_schema(2)(pairs=[pair, pair]).pairs) == 2
    with pytest.raises(ValidationError):
        pair_schema(2)(pairs=[pair])
    with pytest.raises(ValidationError):
        pair_schema(1)(pairs=[{"genre": "考试题", "audience": "x" * 81}])
