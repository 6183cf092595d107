"""Tests of the stand-ins for Discord and the model server."""
