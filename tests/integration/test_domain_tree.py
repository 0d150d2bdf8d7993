"""Domain tree on a real build: stored, revised (never rebuilt) as documents come and go,
pinned by a YAML file; every exported question points to an active node."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.build_dataset import BuildParams, build_dataset
from sftforge.settings import Settings
from tasks.domain_tree import read_nodes
from tests.integration.conftest import read_jsonl

pytestmark = pytest.mark.usefixtures("prefect_server")
TREE_PROMPT = "You organise a corpus"
PARA = ("{t} matters because attackers exploit it in real web applications. Teams that review "
        "{t} carefully ship fewer vulnerabilities, and {t} is checked in every code review. ")

DOCS = {
    "a_web_en.md": ("Web security", ["SQL injection", "Cross-site scripting"]),
    "c_web_en.md": ("Web security", ["SQL injection", "CSRF tokens"]),
}
ZH_DOC = ("# 密码学\n\n## 对称加密\n\n对称加密使用同一个密钥加密和解密，速度快，适合大量数据。"
          "密钥分发是对称加密的主要难题，需要安全的信道。\n\n## 哈希函数\n\n哈希函数把任意长度的"
          "输入映射为固定长度的摘要，常用于校验完整性。好的哈希函数难以找到碰撞。\n")


def _write(folder: Path, name: str) -> None:
    title, sections = DOCS[name]
    body = "".join(f"## {s}\n\n{PARA.format(t=s) * 2}\n\n" for s in sections)
    (folder / name).write_text(f"# {title}\n\n{body}", "utf-8")


def _tree_requests(fake, start: int = 0) -> int:
    return sum(r["messages"][0]["content"].startswith(TREE_PROMPT) for r in fake.log[start:])


def _params(corpus: Path, out: Path, **extra) -> BuildParams:
    return BuildParams(input_path=str(corpus), out_dir=str(out), ga={"pairs_per_doc": 0}, **extra)


def _by_label(nodes: dict) -> dict[str, dict]:
    return {v["label"]: v for v in nodes.values()}


def test_tree_is_revised_not_rebuilt_as_documents_come_and_go(llm_env, tmp_path: Path) -> None:
    corpus, out, db = tmp_path / "corpus", tmp_path / "out", Settings().db_uri
    corpus.mkdir()
    _write(corpus, "a_web_en.md")
    (corpus / "b_crypto_zh.md").write_text(ZH_DOC, "utf-8")
    first = build_dataset(_params(corpus, out))
    assert _tree_requests(llm_env) == 1  # one request for the whole corpus, not per chunk
    nodes1 = read_nodes(db)
    labels = _by_label(nodes1)
    assert set(labels) == {"Web security", "SQL injection", "Cross-site scripting", "密码学",
                           "对称加密", "哈希函数"}
    assert labels["SQL injection"]["parent_id"] == labels["Web security"]["node_id"]
    assert labels["对称加密"]["level"] == 2 and labels["密码学"]["level"] == 1
    samples = read_jsonl(Path(first["release_dir"]) / "samples.jsonl")
    leaves = {v["node_id"] for v in nodes1.values() if v["level"] == 2}
    assert samples and all(s["domain_node"] in leaves for s in samples)
    zh_nodes = {labels["对称加密"]["node_id"], labels["哈希函数"]["node_id"]}
    # a question is tagged among the nodes its own document supports
    assert all((s["domain_node"] in zh_nodes) == (s["source"] == "b_crypto_zh.md")
               for s in samples)

    _write(corpus, "c_web_en.md")  # adds CSRF tokens, shares Web security > SQL injection
    sent = len(llm_env.log)
    build_dataset(_params(corpus, out))
    assert _tree_requests(llm_env, sent) == 1
    nodes2 = read_nodes(db)
    for nid, node in nodes1.items():  # every earlier id kept, with its label
        assert nodes2[nid]["label"] == node["label"] and nodes2[nid]["status"] == "active"
    added = set(nodes2) - set(nodes1)
    assert [nodes2[n]["label"] for n in added] == ["CSRF tokens"]
    assert nodes2[added.pop()]["parent_id"] == labels["Web security"]["node_id"]

    shutil.move(corpus / "a_web_en.md", tmp_path / "a_web_en.md")  # removed from the corpus
    sent = len(llm_env.log)
    third = build_dataset(_params(corpus, out))
    assert _tree_requests(llm_env, sent) == 0  # nothing new: no request
    status = {v["label"]: v["status"] for v in read_nodes(db).values()}
    assert status == {"Web security": "active", "SQL injection": "active",
                      "Cross-site scripting": "retired", "CSRF tokens": "active",
                      "密码学": "active", "对称加密": "active", "哈希函数": "active"}
    retired = labels["Cross-site scripting"]["node_id"]
    exported = read_jsonl(Path(third["release_dir"]) / "samples.jsonl")
    assert exported and all(s["domain_node"] and s["domain_node"] != retired for s in exported)
    assert "Cross-site scripting" not in (Path(third["release_dir"]) / "coverage.md").read_text()


def test_pinned_tree_file_is_the_tree(llm_env, tmp_path: Path) -> None:
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    corpus.mkdir()
    _write(corpus, "a_web_en.md")
    tree = tmp_path / "tree.yaml"
    tree.write_text(
        "nodes:\n"
        "  - label: Application security\n    description: Securing web applications.\n"
        "    children:\n"
        "      - {id: inj, label: Injection attacks, description: SQL and command injection.}\n"
        "      - {label: Browser security, description: Scripts in the browser, XSS and CSP.}\n",
        "utf-8")
    result = build_dataset(_params(corpus, out, domain_tree={"file": str(tree)}))
    assert _tree_requests(llm_env) == 0  # a closed pinned tree needs no request
    nodes = read_nodes(Settings().db_uri)
    assert {v["label"] for v in nodes.values()} == {
        "Application security", "Injection attacks", "Browser security"}
    assert all(v["origin"] == "pinned" and v["status"] == "active" for v in nodes.values())
    assert "inj" in nodes  # the file's own id is kept
    samples = read_jsonl(Path(result["release_dir"]) / "samples.jsonl")
    leaves = {n for n, v in nodes.items() if v["level"] == 2}
    assert samples and all(s["domain_node"] in leaves for s in samples)
