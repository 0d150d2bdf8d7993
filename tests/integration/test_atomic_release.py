"""A published release survives what comes after it (issue 20, item 5), on real builds: a
rebuild of the same content that fails the gate, an empty input folder and an all-quarantined
one each fail loudly and leave the published folder and ``LATEST`` exactly as they were."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge.release.gate import GateFailed
from sftforge.release.staging import EmptyRelease
from tests.fakellm_values import default_content, schema_of_request
from tests.integration.tiny_corpus import tiny_corpus

pytestmark = pytest.mark.usefixtures("prefect_server")

# Not token-shaped: only the gate's check of the configured keys knows it, once it is the key.
KEY = "correct-horse-battery-staple-4711"


def _answers_quote(body: dict) -> str:
    """Default replies, except answers quote KEY (a string that is not yet the API key)."""
    content = default_content(body)
    if "answer" in (schema_of_request(body) or {}).get("properties", {}):
        reply = json.loads(content)
        reply["answer"] = f"Send each request with the header value {KEY} and rotate it weekly."
        return json.dumps(reply, ensure_ascii=False)
    return content


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_latest_survives_a_failing_rebuild_and_empty_inputs(
        llm_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    llm_env.responder = _answers_quote
    corpus, out = tiny_corpus(tmp_path), tmp_path / "out"
    (corpus / "scans").mkdir()
    (corpus / "scans" / "page1.pdf").write_bytes(b"%PDF-1.4 truncated")  # quarantined
    params = BuildParams(input_path=str(corpus), out_dir=str(out), grounding={"min_score": 0})
    first = build_dataset(params)
    releases = out / "releases"
    published = releases / first["version"]
    assert first["counts"]["exported"] > 0 and Path(first["release_dir"]) == published
    before = _files(published)
    assert (releases / "LATEST").read_text().strip() == first["version"]
    # The card and summary travel with the dataset: no local path in them (item 9).
    assert [q["path"] for q in first["quarantined"]] == ["scans/page1.pdf"]
    local = str(tmp_path).encode()
    leaks = {name: data[max(0, data.find(local) - 80):data.find(local) + 60]
             for name, data in before.items() if local in data}
    assert not leaks, leaks

    # The same content again, now that the quoted string is the configured key: the gate fails.
    monkeypatch.setenv("SFTFORGE_LLM_API_KEY", KEY)
    with pytest.raises(GateFailed):
        build_dataset(params)
    assert _files(published) == before, "the published release was touched"
    assert (releases / "LATEST").read_text().strip() == first["version"]

    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "scan.pdf").write_bytes(b"not a pdf at all")
    for folder, why in ((empty, "no document to build"), (broken, "could be used")):
        with pytest.raises(EmptyRelease, match=why):
            build_dataset(BuildParams(input_path=str(folder), out_dir=str(out)))
        assert _files(published) == before
        assert (releases / "LATEST").read_text().strip() == first["version"]
    assert sorted(p.name for p in releases.iterdir()) == ["LATEST", first["version"]]
    assert re.fullmatch(r"v0001-[0-9a-f]{8}", first["version"])
