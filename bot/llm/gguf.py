"""Whether a file is a GGUF model file, by its first bytes (kept apart from local_server.py, which brings the model
server's code along, so that the settings can check the path at start-up)."""

from __future__ import annotations

from pathlib import Path

GGUF_MAGIC = b"GGUF"


def is_gguf(path: Path) -> bool:
    """Whether the file starts as every GGUF model file does (False when it cannot be read)."""
    try:
        with path.open("rb") as file:
            return file.read(len(GGUF_MAGIC)) == GGUF_MAGIC
    except OSError:
        return False
