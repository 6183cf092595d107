"""Digest tests."""
