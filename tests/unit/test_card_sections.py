"""Dataset-card parts: Hugging Face YAML front matter (configs per format and split), size
categories, and the sections older summaries lack."""

from __future__ import annotations

import yaml

from sftforge.release.card_sections import configs, front_matter, size_category, usage_part


def test_front_matter_lists_trainer_files_per_config_and_split() -> None:
    files = {"alpaca_train.jsonl": 8, "alpaca_val.jsonl": 1, "alpaca_test_nocot.jsonl": 1,
             "sharegpt.jsonl": 3, "samples.jsonl": 10, "dataset_info.json": 0}
    summary = {"counts": {"exported": 10}, "files": files,
               "sources": [{"lang": "zh"}, {"lang": "en"}, {"lang": "zh"}]}
    text = front_matter(summary)
    assert text.startswith("---\n") and text.endswith("---\n")
    meta = yaml.safe_load(text.strip("-\n"))
    assert meta["language"] == ["en", "zh"] and meta["size_categories"] == ["n<1K"]
    assert meta["configs"] == [
        {"config_name": "alpaca_nocot", "data_files": [
            {"split": "test", "path": "alpaca_test_nocot.jsonl"}]},
        {"config_name": "alpaca", "data_files": [
            {"split": "train", "path": "alpaca_train.jsonl"},
            {"split": "validation", "path": "alpaca_val.jsonl"}], "default": True},
        {"config_name": "sharegpt", "data_files": [{"split": "train", "path": "sharegpt.jsonl"}]}]


def test_size_categories_and_missing_sections() -> None:
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 5_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "n>1M"]
    assert configs({}) == [] and usage_part({}) == []
    rows = usage_part({"usage_by_role": {"judge": {
        "models": ["local"], "requests": 3, "cache_hits": 1, "prompt_tokens": 90,
        "completion_tokens": 30, "cost_usd": None}}, "cost_usd": None})
    assert "| judge | local | 3 | 1 | 90 | 30 | unpriced |" in rows[1]
