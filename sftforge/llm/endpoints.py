"""Which endpoint each role talks to, and the embedded model's lifetime within a build.

Endpoints are resolved once per build into :class:`EndpointSpec` s (no keys) that travel in the
build context; a task reads only the API key itself (:func:`api_key`: a Prefect Secret block
when one is configured, else settings), so a key never becomes a Prefect parameter, a
fingerprint part or a log line.
"""

from __future__ import annotations

import os
import threading

from pydantic import SecretStr

from sftforge.settings import ROLES, EndpointSpec, Settings

EMBEDDED_TIMEOUT_S = 900.0
LANGUAGE_NAMES = {"zh": "Simplified Chinese (简体中文)", "en": "English"}
# Stands in for the embedded model's URL until it is started: fingerprints and cache keys need
# the model name, never the URL, so a build with nothing to generate never loads the model.
EMBEDDED_NOT_STARTED = "http://127.0.0.1:0/v1"


def language_name(lang: str | None) -> str:
    """Human name of a document language for prompts (``en`` when unknown)."""
    return LANGUAGE_NAMES.get(lang or "en", "the language of the passage")


def resolve_endpoints(settings: Settings, embedded_url: str | None) -> dict[str, EndpointSpec]:
    """role -> endpoint, from settings; roles without a base URL get the embedded model."""
    out = {}
    for role in ROLES:
        spec = settings.endpoint(role, embedded_url=embedded_url or EMBEDDED_NOT_STARTED).spec()
        if spec.base_url in (embedded_url, EMBEDDED_NOT_STARTED):
            from sftforge.llm.local import MODEL_ALIAS

            # llama_cpp.server answers one request at a time: more in flight would only queue
            # and eat into the client timeout, and CPU generation of a long answer takes minutes.
            spec = spec.model_copy(update={
                "model": MODEL_ALIAS, "concurrency": 1, "embedded": True,
                "timeout_s": max(spec.timeout_s, EMBEDDED_TIMEOUT_S)})
        out[role] = spec
    return out


def api_key(role: str) -> SecretStr:
    """The API key of ``role``, read inside the task that needs it: from the Prefect Secret
    block named by ``SFTFORGE_API_KEY_BLOCK`` when that block exists, else from settings."""
    settings = Settings()
    if settings.api_key_block:
        key = secret_block_value(settings.api_key_block)
        if key is not None:
            return key
    return settings.endpoint(role, embedded_url=EMBEDDED_NOT_STARTED).api_key


def secret_block_value(name: str) -> SecretStr | None:
    """The value of the Prefect Secret block ``name``, or None when there is no such block."""
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(name, _sync=True)
    except ValueError:  # Prefect's "Unable to find block document named ..."
        return None
    return SecretStr(str(block.get()))


class LLMRuntime:
    """Starts the embedded local model the first time a stage has LLM work, stops it on close.

    One per build, registered under the build's run id so stages reach it through the context.
    """

    _by_run: dict[str, "LLMRuntime"] = {}
    _lock = threading.Lock()

    def __init__(self, settings: Settings, run_id: str) -> None:
        self.settings, self.run_id = settings, run_id
        self.needed = settings.uses_embedded_llm
        self._server = None
        with self._lock:
            self._by_run[run_id] = self

    @classmethod
    def of(cls, run_id: str) -> "LLMRuntime | None":
        """The runtime of build ``run_id`` (None outside a build, e.g. in unit tests)."""
        return cls._by_run.get(run_id)

    @property
    def url(self) -> str | None:
        """The embedded server's URL once started."""
        return self._server.base_url if self._server else None

    def endpoints(self) -> dict[str, EndpointSpec]:
        """The build's endpoints as they stand (the embedded URL once the model is running)."""
        return resolve_endpoints(self.settings, self.url)

    def ensure_started(self) -> dict[str, EndpointSpec]:
        """Start the embedded model if it is in use and not running yet; return the endpoints."""
        if self.needed and self._server is None:
            from sftforge.llm.local import LocalLLM

            threads = self.settings.local_llm_threads or os.cpu_count() or 1
            self._server = LocalLLM(self.settings.home, threads=threads,
                                    models_dir=self.settings.models_dir)
            self._server.start()
        return self.endpoints()

    def close(self) -> None:
        """Stop the embedded model if this build started it; forget the build."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        with self._lock:
            self._by_run.pop(self.run_id, None)
