"""Storage tests on real SQLite files."""
