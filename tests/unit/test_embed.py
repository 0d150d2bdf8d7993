"""Embedders (offline, unit rows), model choice, and the LanceDB embeddings tables."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sftforge import store
from sftforge.embedding import embedders as embed


@dataclass
class CountingEmbedder:
    """Deterministic fake: a vector per text from its hash; records every text it embeds."""

    name: str = "fake"
    dim: int = 8
    seen: list[str] = field(default_factory=list)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dim) for t in texts]
        arr = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return arr / np.linalg.norm(arr, axis=1, keepdims=True)


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> CountingEmbedder:
    inst = CountingEmbedder()
    monkeypatch.setitem(embed.EMBEDDERS, "fake", lambda: inst)
    embed.get_embedder.cache_clear()
    yield inst
    embed.get_embedder.cache_clear()


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kw: object) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_minilm_loads_from_its_package_without_network(no_network: None) -> None:
    embed.get_embedder.cache_clear()
    model = embed.get_embedder("minilm")
    vectors = model.embed(["How does SQL injection work?", "SQL 注入是如何发生的？"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.name == "minilm" and model.dim == 384


def test_use_multilingual_ranks_chinese_paraphrase_above_other_question(no_network: None) -> None:
    model = embed.get_embedder("use-multilingual")
    v = model.embed([
        "为什么参数化查询可以防止SQL注入？\n数据库先编译语句，再把绑定的值当作数据处理。",
        "预编译语句加绑定参数是如何阻止SQL注入的？\n先用占位符解析查询，之后再绑定用户的值，值不会被当作SQL解释。",
        "Cookie的SameSite属性有什么作用？\nStrict表示跨站请求一律不发送Cookie。",
    ])
    assert v.shape == (3, 512)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1


def test_get_embedder_is_cached_and_rejects_unknown_names() -> None:
    assert embed.get_embedder("use-multilingual") is embed.get_embedder("use-multilingual")
    with pytest.raises(ValueError, match="unknown embedder"):
        embed.get_embedder("word2vec")


def test_choose_embedder_per_corpus() -> None:
    assert embed.choose_embedder(["en"]) == "use-multilingual"
    assert embed.choose_embedder(["en", "zh"]) == "use-multilingual"
    assert embed.choose_embedder(["zh"], setting="minilm") == "minilm"
    with pytest.raises(ValueError):
        embed.choose_embedder(["en"], setting="nope")


def test_detect_langs_by_script() -> None:
    texts = ["What is CSRF?", "什么是跨站请求伪造（CSRF）？", "CSRFとは何ですか", "CSRF란 무엇인가",
             "Что такое CSRF", "", "2024-01-01"]
    assert embed.detect_langs(texts) == ["en", "zh", "ja", "ko", "other", "en", "en"]
    assert embed.detect_lang("跨站脚本 XSS 攻击") == "zh"


def test_table_name_is_one_table_per_model() -> None:
    assert embed.table_name("use-multilingual") == "embeddings_use_multilingual"
    assert embed.table_name("minilm") != embed.table_name("e5-small")


def test_embed_and_store_embeds_only_new_or_changed_rows(
    tmp_path: Path, fake: CountingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embed, "BATCH", 2)  # several batch writes, then a compaction
    monkeypatch.setattr(embed, "COMPACT_AFTER", 1)
    db = str(tmp_path / "db")
    items = {"s1": "What is XSS?", "s2": "什么是 XSS？", "s3": "What is CSRF?"}
    assert embed.embed_and_store(db, "fake", items) == 3
    assert embed.embed_and_store(db, "fake", items) == 0
    assert embed.embed_and_store(db, "fake", {**items, "s2": "什么是跨站脚本？", "s4": "SSRF"}) == 2
    assert fake.seen[-2:] == ["什么是跨站脚本？", "SSRF"]
    tbl = store.connect(db).open_table("embeddings_fake")
    assert tbl.schema.field("vector").type == pa.list_(pa.float32(), 8)
    assert tbl.count_rows() == 4  # upsert on sample_id: the changed text replaced its row
    ids, vectors = embed.load_vectors(db, "fake", ["s2", "s4", "missing"])
    assert sorted(ids) == ["s2", "s4"] and vectors.shape == (2, 8)
    expected = fake.embed(["什么是跨站脚本？"])[0]
    assert np.allclose(vectors[ids.index("s2")], expected, atol=1e-6)
    all_ids, all_vectors = embed.load_vectors(db, "fake")
    assert len(all_ids) == 4 and all_vectors.dtype == np.float32


def test_cosine_search_uses_cosine_not_l2(tmp_path: Path, fake: CountingEmbedder) -> None:
    db = str(tmp_path / "db")
    embed.embed_and_store(db, "fake", {"a": "alpha", "b": "beta", "c": "gamma"})
    target = fake.embed(["beta"])[0]
    # A scaled query: cosine distance to "b" stays 0, L2 distance would be large.
    hits = embed.cosine_search(db, "fake", 5.0 * target, limit=3)
    assert hits["sample_id"][0] == "b"
    assert hits["_distance"][0] == pytest.approx(0.0, abs=1e-5)
    _, vectors = embed.load_vectors(db, "fake", ["a"])
    row = hits.filter(hits["sample_id"] == "a")
    assert row["_distance"][0] == pytest.approx(1.0 - float(vectors[0] @ target), abs=1e-4)
