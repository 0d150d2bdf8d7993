"""Releases: the build report, the dataset card and its sections, the release gate, diffs between releases, snapshots for re-export, coverage and the general-data mix."""
