"""discord.py extensions, one per feature; each stays thin and calls plain functions in bot/."""
