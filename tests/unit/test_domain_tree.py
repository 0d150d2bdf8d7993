"""Domain tree logic: stable ids, revision merge, retirement, the pinned file, coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from sftforge.domain.tree import (TreeFileError, doc_links, leaves, load_tree_file, merge_reply,
                                  node_id, statuses)
from sftforge.release.coverage import coverage, coverage_markdown

REPLY = {"new_nodes": [
    {"ref": "n1", "parent": "", "label": "Web security", "description": "Attacks on web apps."},
    {"ref": "n2", "parent": "n1", "label": "SQL injection", "description": "Queries."},
    {"ref": "n3", "parent": "", "label": "密码学", "description": "加密与哈希。"},
    {"ref": "n4", "parent": "n3", "label": "哈希函数", "description": "摘要。"},
], "documents": [{"doc": "D1", "nodes": ["n2"]}, {"doc": "D2", "nodes": ["n4", "bogus"]}]}


def _first_tree() -> tuple[dict, dict]:
    nodes, refs = merge_reply({}, REPLY, "run1")
    return nodes, doc_links(REPLY, {"D1": "docA", "D2": "docB"}, refs, nodes)


def test_ids_are_stable_and_ignore_case_width_and_spaces() -> None:
    assert node_id("", "Web  Security") == node_id("", "web security") == node_id("", "Ｗｅｂ security")
    assert node_id("p1", "SQL injection") != node_id("p2", "SQL injection")


def test_revision_keeps_existing_nodes_and_reuses_same_labels() -> None:
    nodes, links = _first_tree()
    web, sqli = node_id("", "Web security"), node_id(node_id("", "Web security"), "SQL injection")
    assert links == {"docA": sorted([web, sqli]), "docB": sorted(
        [node_id("", "密码学"), node_id(node_id("", "密码学"), "哈希函数")])}
    revision = {"new_nodes": [
        {"ref": "n1", "parent": web, "label": "sql INJECTION", "description": "changed!"},
        {"ref": "n2", "parent": web, "label": "CSRF", "description": "Forged requests."}],
        "documents": [{"doc": "D1", "nodes": ["n1", "n2"]}]}
    merged, refs = merge_reply(nodes, revision, "run2")
    assert set(merged) - set(nodes) == {node_id(web, "CSRF")}
    assert merged[sqli] == nodes[sqli]  # label and description untouched
    assert doc_links(revision, {"D1": "docC"}, refs, merged)["docC"] == sorted(
        [web, sqli, node_id(web, "CSRF")])


def test_a_node_only_removed_material_supported_is_retired() -> None:
    nodes, links = _first_tree()
    supported = set(links["docB"])  # docA left the corpus
    st = statuses(nodes, supported, pinned_only=False)
    assert {nodes[k]["label"]: v for k, v in st.items()} == {
        "Web security": "retired", "SQL injection": "retired", "密码学": "active", "哈希函数": "active"}


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


def test_coverage_names_empty_and_thin_leaves() -> None:
    nodes, _ = _first_tree()
    extra = {"node_id": "x", "parent_id": node_id("", "密码学"), "label": "对称加密",
             "description": "", "level": 2, "origin": "llm", "status": "active"}
    nodes = {**nodes, "x": extra}
    sqli = node_id(node_id("", "Web security"), "SQL injection")
    hashing = node_id(node_id("", "密码学"), "哈希函数")
    report = coverage(nodes, [sqli] * 10 + [hashing] * 2 + ["gone"])
    # leaves: SQL injection 10, 哈希函数 2, 对称加密 0 -> mean 4, thin below 2.0 ... 2 is not thin
    assert [n["node_id"] for n in leaves(nodes)] == sorted([sqli, hashing, "x"])
    assert (report["empty"], report["thin"], report["untagged"]) == (["密码学 / 对称加密"], [], 1)
    report = coverage(nodes, [sqli] * 10 + [hashing])
    assert report["thin"] == ["密码学 / 哈希函数"] and report["thin_below"] == 1.83
    assert "- 密码学 / 哈希函数" in coverage_markdown(report)
    assert {n["path"]: n["samples"] for n in report["nodes"]}["Web security"] == 10
