"""Text cleaning: Unicode normalisation, language/script statistics, PII scrubbing, prompt-injection detection and references to "the passage"."""
