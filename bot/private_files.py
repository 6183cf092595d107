"""Files that hold members' data or the key to their pseudonyms are readable by their owner (the bot's system
account) only. The bot creates them so; one left open to other users (an older version under a loose umask, a key
written by hand with `openssl rand -hex 32 > key`) is tightened with a warning when the bot opens it."""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


def make_private(files: Iterable[Path], subject: Path, why: str) -> list[str]:
    """Take other users' access away from each of `files` that exists and has any, warning that `subject` was open
    to them and `why` it matters (e.g. "it holds members' questions and comments"); the files tightened, as
    "name (mode 644)".

    Through the paths, never an open descriptor: closing one would drop the locks SQLite holds on a database in this
    process."""
    tightened = []
    for file in files:
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except OSError:
            continue  # not there (no -wal after a clean stop); anything else, using it says
        if not mode & 0o077:
            continue
        try:
            file.chmod(mode & 0o700)
        except OSError as error:
            log.warning("%s is open to other users (mode %o) and could not be made private: %s", file, mode, error)
            continue
        tightened.append(f"{file.name} (mode {mode:o})")
    if tightened:
        log.warning(
            "made %s readable and writable by its owner only, as %s; it was open to other users: %s",
            subject,
            why,
            ", ".join(tightened),
        )
    return tightened
