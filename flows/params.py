"""The parameters of one build: the form the Prefect UI renders for a run.

One settings path: the CLI, ``deployments/serve.py``, ``prefect.yaml`` runs and tests all pass a
:class:`BuildParams`; :func:`resolve` fills what a caller left out from ``SFTFORGE_*``
environment variables, ``.env`` and ``sftforge.toml`` (e.g. ``SFTFORGE_CHUNK__TARGET_TOKENS``),
in the process that runs the build. Endpoints and API keys are never parameters.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sftforge.cleaning.rules import CleanSettings
from sftforge.settings import ChunkSettings, QuestionSettings, SftforgeSources
from sftforge.verifier.settings import VerifySettings
from tasks.answers import AnswerSettings
from tasks.dedup import DedupSettings
from tasks.dialogues import DialogueSettings
from tasks.export import ExportSettings
from tasks.gate import GateSettings
from tasks.grounding import GroundingSettings
from tasks.judge import JudgeSettings
from tasks.preferences import PreferenceSettings
from tasks.qa_pairs import GenerationSettings
from tasks.select_chunks import ChunkSelectionSettings
from tasks.split import SplitSettings
from sftforge.question_plan import PlanSettings
from tasks.balance import BalanceSettings
from tasks.domain_tree import DomainTreeSettings
from tasks.ga_pairs import GASettings
from tasks.tag_nodes import TagSettings


class BuildParams(SftforgeSources):
    """Parameters of one build (a form in the Prefect UI)."""

    input_path: str = Field(description="A document or a folder of documents")
    recipe: str = Field("", description="The recipe these parameters came from "
                        "(deployments/recipes/<recipe>.yaml); a label kept in summary.json")
    out_dir: str = Field("sftforge-out", description="Where releases/<version>/ is written")
    quarantine_hidden_instructions: bool = Field(False, description=(
        "Quarantine a document whose hidden text reads as instructions (else: flag it; the "
        "hidden text is never ingested either way)"))
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    select: ChunkSelectionSettings = Field(default_factory=ChunkSelectionSettings)
    questions: QuestionSettings = Field(default_factory=QuestionSettings)
    answers: AnswerSettings = Field(default_factory=AnswerSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    clean: CleanSettings = Field(default_factory=CleanSettings)
    grounding: GroundingSettings = Field(default_factory=GroundingSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    judge_enabled: bool = Field(True, description="Check samples with an LLM (verifier and/or "
                                "judge, see `scoring`); off: no LLM check at all")
    scoring: Literal["auto", "verifier", "judge", "both"] = Field("auto", description=(
        "Which LLM check runs: the verifier's yes/no checks, the 1-10 judge, or both; auto = "
        "the verifier when the judge role is the embedded model, else the judge"))
    verify: VerifySettings = Field(default_factory=VerifySettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    dialogues: DialogueSettings = Field(default_factory=DialogueSettings)
    preferences: PreferenceSettings = Field(default_factory=PreferenceSettings)
    split: SplitSettings = Field(default_factory=SplitSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    plan: PlanSettings = Field(default_factory=PlanSettings)
    ga: GASettings = Field(default_factory=GASettings)
    domain_tree: DomainTreeSettings = Field(default_factory=DomainTreeSettings)
    tags: TagSettings = Field(default_factory=TagSettings)
    balance: BalanceSettings = Field(default_factory=BalanceSettings)


def resolve(params: BuildParams) -> BuildParams:
    """``params`` with every value its caller did not give read from the settings sources.

    Prefect validates a run's parameters from JSON without reading the environment, so the
    flow calls this first; given values win, nested ones field by field.
    """
    return BuildParams(**params.model_dump(exclude_unset=True))
