"""Releases: the build report and the dataset card."""
