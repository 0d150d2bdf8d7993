import time
from pathlib import Path
import pytest
from flows.build_dataset import BuildParams, build_dataset
from sftforge import store
from sftforge.settings import Settings
from tests.integration.tiny_corpus import tiny_corpus
pytestmark = pytest.mark.usefixtures("prefect_server")

def test_explore(llm_env, tmp_path):
    corpus = tiny_corpus(tmp_path)
    t = time.time()
    s = build_dataset(BuildParams(input_path=str(corpus), out_dir=str(tmp_path / "out")))
    print("secs", time.time() - t, "requests", llm_env.requests)
    print(s["counts"], s["drop_reasons"])
    for c in store.read(Settings().db_uri, "chunks").to_dicts():
        print(c["chunk_id"], c.get("n_tokens"), c["text"][:60].replace("\n"," "))
    for b in llm_env.log:
        print(b.get("model"), b["messages"][0]["content"][:50].replace("\n"," "), "|", b["messages"][-1]["content"][:80].replace("\n"," "))
