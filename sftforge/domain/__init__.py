"""The domain tree: topic nodes of the corpus, revised as documents come and go."""
