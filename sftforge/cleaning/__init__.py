"""Text cleaning: Unicode normalisation, language/script statistics, the clean stage's rule
filters, PII scrubbing, prompt-injection detection and references to "the passage"."""
