"""Deployments of the build flow (see definitions.py)."""
