"""Domain tree logic: outlines from the documents' own structure, the model naming only, stable
ids, revision, retirement, the pinned file, tagging by heading path, coverage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sftforge.domain.outline import doc_outline, grounded, is_generic
from sftforge.domain.skeleton import add_documents, heading_match, tidy_areas
from sftforge.domain.tree import (TreeFileError, leaves, load_tree_file, node_id, path_of,
                                  statuses)
from sftforge.release.card_render import coverage_section
from sftforge.release.coverage import coverage, coverage_markdown
from tasks.chunk import ChunkSettings, chunk_blocks
from tasks.ingest import parse_document

DEMO = Path(__file__).parents[2] / "sftforge" / "demo"


def _demo_docs() -> tuple[list[dict], dict[str, list[str]]]:
    """The demo documents' real structure (ingest + chunk, no LLM): outlines and, per
    document, its chunks' heading paths."""
    docs, paths = [], {}
    for i, f in enumerate(sorted(DEMO.glob("*.md")), 1):
        parsed = parse_document(f)
        chunks = chunk_blocks(parsed.blocks, ChunkSettings(), parsed.lang)
        paths[f.stem] = [c["heading_path"] for c in chunks]
        text = "\n".join([parsed.title, *(t[1] for t in parsed.toc), *(c["text"] for c in chunks)])
        docs.append({"ref": f"D{i}", "doc_id": f.stem, "material": text,
                     **doc_outline(parsed.title, parsed.toc, paths[f.stem], f.stem)})
    return docs, paths


def _tags(nodes: dict, links: dict, paths: dict) -> dict[str, list[str | None]]:
    tips = leaves(nodes)
    return {doc: [heading_match(p, [t for t in tips if t["node_id"] in links[doc]])
                  for p in ps] for doc, ps in paths.items()}


# the embedded 1.5B model's demo reply, as seen before: every document on "Defense in Depth"
COLLAPSED = {"topics": [{"doc": f"D{i}", "label": "Defense in Depth", "area": "Web Security",
                         "description": "Layers of defense."} for i in (1, 2, 3)]}


def test_three_documents_on_three_topics_give_three_topic_nodes_and_spread_samples() -> None:
    docs, paths = _demo_docs()
    nodes, links = add_documents({}, docs, COLLAPSED, "run1")
    area = node_id("", "Web Security")
    topics = sorted(v["label"] for v in nodes.values() if v["parent_id"] == area)
    assert topics == ["Cross-Site Scripting: Attack and Defense",
                      "SQL Injection and Parameterized Queries", "跨站请求伪造与会话安全"]
    sections = {path_of(v["node_id"], nodes) for v in leaves(nodes)}
    assert "Web Security / 跨站请求伪造与会话安全 / 防御实践" in sections and len(sections) == 6
    tags = _tags(nodes, links, paths)
    assert all(t is not None for ts in tags.values() for t in ts)  # all by heading, no guess
    per_topic = Counter(nodes[t]["parent_id"] for ts in tags.values() for t in ts)
    assert len(per_topic) == 3 and max(per_topic.values()) <= 3
    assert coverage(nodes, [t for ts in tags.values() for t in ts])["dominant"] is None


def test_the_model_names_and_arranges_when_grounded_and_may_not_drop_a_document() -> None:
    docs, _ = _demo_docs()
    reply = {"topics": [
        {"doc": "D1", "label": "SQL injection", "area": "Web Security", "description": "d"},
        {"doc": "D2", "label": "XSS", "area": "Web Security", "description": "d"},
        {"doc": "D3", "label": "Cryptography", "area": "Web Security", "description": "d"}]}
    nodes, links = add_documents({}, docs[:2] + docs[2:], reply, "run1")
    area = node_id("", "Web Security")
    assert sorted(v["label"] for v in nodes.values() if v["parent_id"] == area) == [
        "SQL injection", "XSS", "跨站请求伪造与会话安全"]  # "Cryptography" is not in the text
    assert nodes[area]["level"] == 1 and {v["level"] for v in leaves(nodes)} == {3}
    # a document the reply leaves out keeps its title as its topic
    missing, _ = add_documents({}, docs, {"topics": reply["topics"][:1]}, "run1")
    assert {v["label"] for v in missing.values() if v["level"] == 1} == {
        "Web Security", "Cross-Site Scripting: Attack and Defense", "跨站请求伪造与会话安全"}
    assert all(len(ids) >= 3 for ids in links.values())


def test_an_area_named_twice_is_one_area() -> None:
    # the embedded 1.5B model's reply on the demo: "Security" for one document, "Web
    # Security" for the two others
    docs, _ = _demo_docs()
    reply = {"topics": [{"doc": f"D{i}", "label": d["topic"], "area": area, "description": ""}
                        for i, (d, area) in enumerate(zip(docs, ["Security", "Web Security",
                                                                 "Web Security"]), 1)]}
    nodes, _ = add_documents({}, docs, reply, "run1")
    assert sorted(v["label"] for v in nodes.values() if v["level"] == 1) == ["Web Security"]
    assert tidy_areas(["网络安全", "Crypto"], ["Web security"]) == {"网络安全": "网络安全",
                                                                 "Crypto": "Crypto"}
    assert tidy_areas(["security"], ["Web Security"]) == {"security": "Web Security"}


def test_a_new_document_adds_its_nodes_and_existing_ones_stay() -> None:
    docs, _ = _demo_docs()
    reply = {"topics": [{"doc": "D1", "label": "SQL injection", "area": "", "description": "x"}]}
    nodes, _ = add_documents({}, docs[:1], reply, "run1")
    more = {"ref": "D1", "doc_id": "new", "topic": "SQL Injection in Stored Procedures",
            "description": "", "material": "SQL injection in stored procedures",
            "sections": [{"label": "Dynamic SQL", "description": ""},
                         {"label": "The Vulnerability", "description": "changed!"}]}
    again = {"topics": [{"doc": "D1", "label": "sql INJECTION", "area": "", "description": "y"}]}
    merged, links = add_documents(nodes, [more], again, "run2")
    for nid, node in nodes.items():
        assert merged[nid] == node  # ids, labels and descriptions untouched
    sqli = node_id("", "SQL injection")
    assert [merged[n]["label"] for n in set(merged) - set(nodes)] == ["Dynamic SQL"]
    assert links["new"] == sorted([sqli, node_id(sqli, "Dynamic SQL"),
                                   node_id(sqli, "The Vulnerability")])


def test_outline_sections_skip_generic_headings_in_both_languages() -> None:
    assert is_generic("Introduction") and is_generic("1. 概述") and is_generic("第二章 小结")
    assert not is_generic("Output Encoding") and not is_generic("防御实践")
    toc = [[1, "密码学", 1], [2, "概述", 1], [2, "对称加密", 1], [3, "分组密码", 1],
           [2, "哈希函数", 1], [2, "参考文献", 2]]
    out = doc_outline("", toc, [], "crypto")
    assert out["topic"] == "密码学" and [s["label"] for s in out["sections"]] == ["对称加密", "哈希函数"]
    assert out["sections"][0]["description"] == "分组密码"
    # no outline, no heading: the file name is the topic, with no section
    assert doc_outline("", [], ["", ""], "notes_2024") == {
        "topic": "notes_2024", "description": "", "sections": []}
    # no toc: the chunks' heading paths stand in; several top headings are the sections
    out = doc_outline("Web", [], ["A > x", "B", "B > y"], "f", max_sections=1)
    assert out["sections"] == []  # one section left is none


def test_a_model_name_must_come_from_the_document() -> None:
    text = "Cross-Site Scripting: Attack and Defense\nThree Kinds of XSS\nOutput encoding"
    title = "Cross-Site Scripting: Attack and Defense"
    assert grounded("Cross-site scripting", title, text) and grounded("XSS", title, text)
    assert not grounded("Defense in Depth", title, text)  # "depth" is not in the text
    assert not grounded("Output Encoding", title, text)  # a section, not the title's topic
    assert grounded("跨站请求伪造", "跨站请求伪造与会话安全", "跨站请求伪造与会话安全\n攻击分析")
    assert not grounded("密码学", "跨站请求伪造与会话安全", "跨站请求伪造与会话安全")


def test_heading_match_is_ambiguous_only_without_a_named_section() -> None:
    cands = [{"node_id": "a", "label": "Output Encoding"}, {"node_id": "b", "label": "CSP"}]
    assert heading_match("XSS > Output encoding > Contexts", cands) == "a"
    assert heading_match("XSS > Introduction", cands) is None
    assert heading_match("anything", cands[:1]) == "a"


def test_a_node_only_removed_material_supported_is_retired() -> None:
    docs, _ = _demo_docs()
    nodes, links = add_documents({}, docs, None, "run1")
    supported = set(links["zh_csrf_session"])  # the English documents left the corpus
    st = statuses(nodes, supported, pinned_only=False)
    assert sorted(nodes[k]["label"] for k, v in st.items() if v == "active") == [
        "攻击分析", "跨站请求伪造与会话安全", "防御实践"]


def test_pinned_file_errors_name_the_file_and_node(tmp_path: Path) -> None:
    bad = tmp_path / "tree.yaml"
    bad.write_text("nodes:\n  - label: A\n    children:\n      - description: no label\n", "utf-8")
    with pytest.raises(TreeFileError, match=r"tree.yaml: nodes\[0\].children\[0\]: every node"):
        load_tree_file(str(bad))
    with pytest.raises(TreeFileError, match="does not exist"):
        load_tree_file(str(tmp_path / "missing.yaml"))
    good = tmp_path / "good.yaml"
    good.write_text("extend: true\nnodes:\n  - {id: top, label: Top, description: d}\n", "utf-8")
    pinned, extend = load_tree_file(str(good))
    assert extend and [(p["node_id"], p["origin"], p["level"]) for p in pinned] == [
        ("top", "pinned", 1)]


def _crypto_tree() -> dict:
    doc = {"ref": "D1", "doc_id": "c", "topic": "密码学", "description": "", "material": "",
           "sections": [{"label": "哈希函数", "description": ""},
                        {"label": "对称加密", "description": ""}]}
    web = {"ref": "D2", "doc_id": "w", "topic": "Web security", "description": "",
           "material": "", "sections": [{"label": "SQL injection", "description": ""},
                                        {"label": "XSS", "description": ""}]}
    return add_documents({}, [doc, web], None, "run1")[0]


def test_coverage_names_empty_thin_and_dominant_leaves() -> None:
    nodes = _crypto_tree()
    sqli = node_id(node_id("", "Web security"), "SQL injection")
    xss = node_id(node_id("", "Web security"), "XSS")
    hashing = node_id(node_id("", "密码学"), "哈希函数")
    report = coverage(nodes, [sqli] * 10 + [hashing] * 4 + [xss] * 4 + ["gone"])
    # leaves: SQL injection 10, 哈希函数 4, XSS 4, 对称加密 0 -> mean 4.5, thin below 2.25
    assert (report["empty"], report["thin"], report["untagged"]) == (["密码学 / 对称加密"], [], 1)
    assert report["dominant"] is None  # 10 of 18 is not most
    report = coverage(nodes, [sqli] * 10 + [hashing])
    assert report["thin"] == ["密码学 / 哈希函数"] and report["thin_below"] == 1.38
    assert report["dominant"] == {"path": "Web security / SQL injection", "samples": 10,
                                  "share": 0.909}
    md = coverage_markdown(report)
    assert "- 密码学 / 哈希函数" in md and "**Warning:** one domain node" in md
    assert "Web security / SQL injection, holds 10 samples (91%" in coverage_section(report)
    assert {n["path"]: n["samples"] for n in report["nodes"]}["Web security"] == 10


UNSTRUCTURED = [
    "SQL injection lets an attacker change a database query through user input.",
    "Parameterized queries keep user input apart from the SQL query text.",
    "An ORM builds parameterized SQL queries, but raw query strings can still inject.",
    "Stored procedures that concatenate input into dynamic SQL are injectable too.",
    "会话 Cookie 应设置 HttpOnly 与 Secure 属性，防止脚本读取会话标识。",
    "会话标识在登录后必须重新生成，以防止会话固定攻击。",
    "会话超时后服务器应销毁会话数据，Cookie 也随之失效。",
    "SameSite 属性限制跨站请求携带会话 Cookie。",
]


def test_a_document_without_headings_gets_sections_from_chunk_clusters() -> None:
    from sftforge.domain.clusters import cluster_sections
    from sftforge.embedding.embedders import MULTILINGUAL, get_embedder

    vectors = get_embedder(MULTILINGUAL).embed(UNSTRUCTURED)
    sections = cluster_sections(UNSTRUCTURED, vectors)
    assert len(sections) == 2
    assert "sql" in sections[0]["label"] and "会话" in sections[1]["label"]
    assert sections[0]["description"].startswith("SQL injection lets")
    assert cluster_sections(UNSTRUCTURED[:3], None) == []  # too short to split
