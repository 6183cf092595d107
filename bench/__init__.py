"""Benchmarks for culturebot: each module runs the real bot in-process against the Discord stand-in and the fake
model, drives it through the stand-in's gateway, prints one JSON object on stdout and its progress on stderr.

Run one with ``.venv/bin/python -m bench.<module> [--quick]``; see bench/README.md for the list.
"""
