"""Settings for every sftforge component.

Read, highest priority first, from: keyword arguments, ``SFTFORGE_*`` environment variables
(nested with ``__``, e.g. ``SFTFORGE_ANSWER__MODEL``), and one TOML file: the explicit one
(``sftforge build --config FILE`` / ``SFTFORGE_CONFIG``), else the user's own
(``$XDG_CONFIG_HOME/sftforge/sftforge.toml``, default ``~/.config/sftforge/sftforge.toml``).

Never from the working directory: documents are hostile, and a ``sftforge.toml`` or ``.env``
shipped inside a downloaded corpus folder must not redirect the endpoint (and the key with it),
allow PII through the gate or turn scrubbing off when the user runs ``sftforge build .`` there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


# How the gateway asks for JSON: "schema_object" = {"type": "json_object", "schema": ...}
# (llama.cpp server, grammar-constrained), "json_schema" = OpenAI structured outputs,
# "json_object" = plain JSON mode, "none" = prompt only. The schema is always in the prompt too.
JsonMode = Literal["schema_object", "json_schema", "json_object", "none"]
# Every role an LLM stage can play; each may have its own endpoint.
ROLES = ("question", "answer", "judge")


class LLMEndpoint(BaseModel):
    """One OpenAI-compatible endpoint for one role; unset fields fall back to the global ``llm``."""

    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    concurrency: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    json_mode: JsonMode | None = None
    rpm: int | None = Field(None, gt=0)  # requests per minute (sftforge.llm.limits)
    tpm: int | None = Field(None, gt=0)  # tokens per minute


class EndpointSpec(BaseModel):
    """An endpoint with every field set except the key: what stages and fingerprints see.

    It travels in the build context (a Prefect parameter), so it must never hold a secret.
    """

    base_url: str
    model: str
    concurrency: int = 4
    timeout_s: float = 120.0
    max_retries: int = 4
    temperature: float = 0.3
    max_tokens: int = 1024
    # How JSON output is requested; see JsonMode.
    json_mode: JsonMode = "json_object"
    # The embedded local model on CPU: stages that multiply calls scale down for it.
    embedded: bool = False
    # Requests / tokens per minute the gateway keeps under (None: no limit).
    rpm: int | None = None
    tpm: int | None = None


class ResolvedEndpoint(EndpointSpec):
    """An endpoint with its API key: what the LLM gateway is built from, inside a task."""

    api_key: SecretStr = SecretStr("sk-no-key")

    def spec(self) -> EndpointSpec:
        """The same endpoint without its key."""
        return EndpointSpec(**self.model_dump(exclude={"api_key"}))


class ModelPrice(BaseModel):
    """USD per 1M tokens of one model (``Settings.prices``)."""

    prompt: float = Field(0.0, ge=0)
    completion: float = Field(0.0, ge=0)


class ChunkSettings(BaseModel):
    """How documents are cut into chunks (sizes in estimated tokens)."""

    target_tokens: int = 450
    max_tokens: int = 700
    min_tokens: int = 40
    overlap_sentences: int = 1


class QuestionSettings(BaseModel):
    """How many questions each chunk gets: exactly ``clamp(round(tokens / tokens_per_question))``."""

    tokens_per_question: int = 150
    min_per_chunk: int = 1
    max_per_chunk: int = 5


class OcrSettings(BaseModel):
    """OCR at ingest of PDF pages with no text layer or a garbled one (docs/ocr.md).

    ``SFTFORGE_OCR__ENABLED=false`` turns it off (image-only files are then quarantined);
    pages read with a mean confidence under ``min_confidence`` are left out with a note.
    """

    enabled: bool = True
    dpi: int = Field(200, ge=72, le=600)  # pages are rendered at this resolution for OCR
    min_confidence: float = Field(0.8, ge=0.0, le=1.0)

    def signature(self) -> str:
        """What a document OCR'd under these settings depends on (its fingerprint part)."""
        return f"rapidocr-ppocrv4:{self.dpi}:{self.min_confidence}" if self.enabled else "off"


class IngestLimits(BaseModel):
    """Per-file limits of ingest: each file is parsed in a worker process that is stopped at
    ``seconds_per_file`` (plus ``seconds_per_ocr_page`` for each page it OCRs); a file over a
    limit is quarantined with a reason and the build goes on (``SFTFORGE_LIMITS__*``)."""

    max_bytes: int = Field(512 * 1024 * 1024, gt=0)
    max_pages: int = Field(5000, gt=0)
    seconds_per_file: float = Field(300.0, gt=0)
    seconds_per_ocr_page: float = Field(60.0, ge=0)


class DaskSettings(BaseModel):
    """Where CPU-heavy stages (parse, chunk) run: in the flow process by default, or on Dask.

    ``address`` (``SFTFORGE_DASK__ADDRESS``, e.g. ``tcp://scheduler:8786``) uses an existing
    cluster; ``local_workers`` (``SFTFORGE_DASK__LOCAL_WORKERS``) > 0 starts a ``LocalCluster``
    of that many worker processes for the build. Both unset = in-process (the default).
    """

    address: str | None = None
    local_workers: int = 0
    threads_per_worker: int = 1  # PyMuPDF is not thread-safe: one task per worker process

    @property
    def enabled(self) -> bool:
        """True when the build should run parallel-safe stages on Dask."""
        return bool(self.address) or self.local_workers > 0


def _default_home() -> Path:
    return Path(os.environ.get("SFTFORGE_HOME", ".sftforge")).expanduser()


def user_config_file() -> Path:
    """The user-level config file: ``$XDG_CONFIG_HOME/sftforge/sftforge.toml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "sftforge" / "sftforge.toml"


def config_file() -> Path | None:
    """The one TOML file settings are read from: ``SFTFORGE_CONFIG`` (which must exist), else
    the user-level file when it exists, else None. Never a file of the working directory."""
    explicit = os.environ.get("SFTFORGE_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} (SFTFORGE_CONFIG / --config) not found")
        return path
    user = user_config_file()
    return user if user.is_file() else None


def config_sources() -> list[str]:
    """Where this process's settings come from, for the build log."""
    path = config_file()
    return ["environment (SFTFORGE_*)", *([str(path)] if path else [])]


class SftforgeSources(BaseSettings):
    """Where every sftforge setting is read from (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="SFTFORGE_",
        env_nested_delimiter="__",
        env_file=None,  # a .env of the working directory is not a trusted place
        extra="ignore",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file()
        files = [TomlConfigSettingsSource(settings_cls, toml_file=path)] if path else []
        return (init_settings, env_settings, *files)


class Settings(SftforgeSources):
    """Operational settings: data home, endpoints and keys, error budget, embedded model.

    What shapes the dataset (chunking, question counts, thresholds, splits, formats) is in
    the build parameters (``flows.params.BuildParams``), read from the same sources.
    """

    home: Path = Field(default_factory=_default_home)
    # Global endpoint: SFTFORGE_LLM_BASE_URL / _MODEL / _API_KEY. No base URL = embedded model.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_concurrency: int = 4
    llm_timeout_s: float = 180.0
    llm_max_retries: int = 4
    llm_json_mode: JsonMode | None = None
    llm_rpm: int | None = Field(None, gt=0)
    llm_tpm: int | None = Field(None, gt=0)
    # Strict limits: a remote role without an RPM/TPM limit, or a Prefect server without the
    # LLM task concurrency limit (infra/bootstrap.py), stops the build before any request.
    llm_limits_strict: bool = False
    question: LLMEndpoint = Field(default_factory=LLMEndpoint)
    answer: LLMEndpoint = Field(default_factory=LLMEndpoint)
    judge: LLMEndpoint = Field(default_factory=LLMEndpoint)
    # Share of items a stage may lose to LLM failures before the whole build fails.
    error_budget: float = 0.25
    # model -> USD per 1M prompt/completion tokens (sftforge.llm.costs); unpriced models are free.
    prices: dict[str, ModelPrice] = Field(default_factory=dict)
    # Stop the build cleanly once its LLM calls have cost this much (None: no cap).
    budget_usd: float | None = None
    # Embedded model: threads (default: every core, the pipeline waits while it generates) and
    # where the joined model file lives (default HOME/models; share it between homes).
    local_llm_threads: int | None = None
    models_dir: Path | None = None
    # Scale-out of the CPU-heavy stages (see DaskSettings); default: in the flow process.
    dask: DaskSettings = Field(default_factory=DaskSettings)
    # Name of a Prefect Secret block holding the LLM API key (read inside tasks when it
    # exists; else the key comes from SFTFORGE_*_API_KEY). infra/bootstrap.py creates it.
    api_key_block: str | None = None
    # The only folder an on-arrival build (an inbox event names its path) may read; unset:
    # on-arrival builds are refused (an event must not pick what gets sent to the LLM).
    inbox_root: Path | None = None

    @property
    def db_uri(self) -> str:
        """Where the LanceDB database lives."""
        return str(self.home / "lancedb")

    @property
    def uses_embedded_llm(self) -> bool:
        """True when some role has no base URL, so the embedded local model must be started."""
        return not all(self._role(r).base_url or self.llm_base_url for r in ROLES)

    def _role(self, role: str) -> LLMEndpoint:
        return getattr(self, role)

    def endpoint(self, role: str, embedded_url: str | None = None) -> ResolvedEndpoint:
        """Resolve the endpoint for ``role`` (question, answer, judge), falling back to globals."""
        ep = self._role(role)
        base_url = ep.base_url or self.llm_base_url or embedded_url
        if not base_url:
            raise ValueError(
                f"No LLM endpoint for role '{role}': set SFTFORGE_LLM_BASE_URL or start the "
                "embedded local model (leave SFTFORGE_LLM_BASE_URL unset)."
            )
        fields: dict[str, Any] = {
            "base_url": base_url,
            "model": ep.model or self.llm_model or "local",
            "concurrency": ep.concurrency or self.llm_concurrency,
            "timeout_s": ep.timeout_s or self.llm_timeout_s,
            "max_retries": ep.max_retries if ep.max_retries is not None else self.llm_max_retries,
        }
        fields["rpm"], fields["tpm"] = ep.rpm or self.llm_rpm, ep.tpm or self.llm_tpm
        key = ep.api_key or self.llm_api_key
        if key is not None:
            fields["api_key"] = key
        if ep.temperature is not None:
            fields["temperature"] = ep.temperature
        if ep.max_tokens is not None:
            fields["max_tokens"] = ep.max_tokens
        mode = ep.json_mode or self.llm_json_mode
        # The embedded llama.cpp server constrains decoding with the schema; a 1.5B model
        # needs that to produce valid JSON at all.
        fields["json_mode"] = mode or ("schema_object" if base_url == embedded_url else "json_object")
        return ResolvedEndpoint(**fields)


def endpoint_host(base_url: str) -> str:
    """The host (and port) of an endpoint URL, without credentials, path or query."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


def describe_endpoints(endpoints: dict[str, EndpointSpec]) -> str:
    """One line naming the host each role sends requests to (never a key), e.g.
    ``LLM endpoints: question, answer -> api.deepseek.com; judge -> embedded local model``."""
    by_host: dict[str, list[str]] = {}
    for role, spec in endpoints.items():
        where = "embedded local model" if spec.embedded else endpoint_host(spec.base_url)
        by_host.setdefault(where, []).append(role)
    return "LLM endpoints: " + "; ".join(f"{', '.join(r)} -> {h}" for h, r in by_host.items())
