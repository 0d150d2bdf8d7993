"""Warnings about empty or small splits (sftforge/release/split_warnings.py)."""

from __future__ import annotations

from sftforge.release.split_warnings import split_warnings, split_warnings_of

RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}
ADVICE = ("To fix it, add documents, raise the questions per chunk "
          "(SFTFORGE_QUESTIONS__MIN_PER_CHUNK and __MAX_PER_CHUNK), or change the ratios "
          "(SFTFORGE_SPLIT__VAL, SFTFORGE_SPLIT__TEST) or the minimum "
          "(SFTFORGE_SPLIT__MIN_PER_SPLIT). Samples keep their split when documents are added.")


def test_empty_val_and_test_are_named_with_numbers_and_remedies() -> None:
    assert split_warnings({"train": 6}, RATIOS) == [
        "val and test are empty: 6 exported samples are too few for a 80/10/10 train/val/test "
        f"split; about 10 are needed for 1 per split on average. {ADVICE}"]


def test_a_split_under_the_minimum_is_named_with_its_count() -> None:
    counts = {"train": 40, "val": 3, "test": 0}
    assert split_warnings(counts, RATIOS, minimum=5) == [
        "test is empty; val has 3: 43 exported samples are too few for a 80/10/10 "
        f"train/val/test split; about 50 are needed for 5 per split on average. {ADVICE}"]


def test_enough_samples_on_average_blames_the_hash_draw_not_the_count() -> None:
    # 15 samples would give 1.5 per 10% split on average: "too few" would contradict itself.
    (warning,) = split_warnings({"train": 13, "val": 2}, RATIOS)
    assert warning.startswith("test is empty: the 15 exported samples would give 1 per split on "
                              "average (about 10 are needed)")
    assert "placed by its stable hash" in warning and "too few" not in warning
    assert warning.endswith(ADVICE)


def test_no_warning_when_every_split_with_a_share_has_rows() -> None:
    assert split_warnings({"train": 8, "val": 1, "test": 1}, RATIOS) == []
    # A split with ratio 0 is meant to be empty; minimum 0 turns the check off.
    assert split_warnings({"train": 9, "val": 1}, {"train": 0.9, "val": 0.1, "test": 0.0}) == []
    assert split_warnings({"train": 6}, RATIOS, minimum=0) == []


def test_build_params_drive_the_check_and_no_split_stage_means_no_warning() -> None:
    params = {"split": {**RATIOS, "min_per_split": 1, "group_by_document": True}}
    (warning,) = split_warnings_of({"train": 2, "test": 1}, params)
    assert warning.startswith("val is empty: 3 exported samples are too few")
    assert "split.group_by_document puts each document's samples in one split" in warning
    assert split_warnings_of({"all": 5}, params) == []
    assert split_warnings_of({}, params) == [
        "no sample was exported, so every split is empty: see the drop reasons"]
