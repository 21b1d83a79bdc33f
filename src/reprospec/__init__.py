"""Compile experiment specs into reproducible bundles."""

__version__ = "0.1.0"
