"""Tests of the model side: the OpenAI-compatible client and the embedded local model server."""
