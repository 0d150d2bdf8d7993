"""Embeddings and near-duplicates: embedders shipped by PyPI packages, vectors in LanceDB, cluster-then-compare pair search."""
