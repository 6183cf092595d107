"""culturebot: a Discord bot for researching the cultural alignment of language models."""
