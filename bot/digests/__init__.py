"""Research digests: the period's rows (rows.py), their statistics, reports, charts and exports, and delivery."""
