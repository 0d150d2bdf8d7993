"""Text cleaning: Unicode normalisation, language/script statistics and PII scrubbing."""
