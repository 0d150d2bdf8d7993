"""Human review of releases: audit draw, review page, verdicts, export/import."""
