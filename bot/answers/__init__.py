"""Answering members: prompt assembly, streaming into Discord messages, output safety."""
