"""End-to-end tests: the real bot, discord.py and openai client against the stand-ins, over real sockets."""
