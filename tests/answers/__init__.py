"""Answer building blocks: retrieval, token budgets, cues."""
