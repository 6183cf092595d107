"""Pseudonymisation of members for research data.

Research tables hold an HMAC-SHA256 of the member's Discord id under a key kept outside the
database, so a copy of the database alone does not identify anyone, while the bot can still
recompute a member's pseudonym to honour export and deletion requests.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from bot.config import Settings
from bot.private_files import make_private

log = logging.getLogger(__name__)

KEY_BYTES = 32
KEY_CHECK = "pseudonym_key_fingerprint"  # bot_state key


class Pseudonymizer:
    """Maps Discord user ids to stable, keyed pseudonyms."""

    def __init__(self, key: bytes, *, new_key_file: Path | None = None) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonymisation key must be at least 16 bytes")
        self._key = key
        # The key file this process created for the key (it was not there): removed again when the database turns
        # out to have pseudonyms made with another key, so that no stray key sits where the real one belongs.
        self.new_key_file = new_key_file

    def member(self, user_id: int) -> str:
        """The member's pseudonym: 32 hex characters (128 bits of the HMAC)."""
        digest = hmac.new(self._key, f"member:{user_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def prompt(self, payload: bytes) -> str:
        """A prompt's keyed hash (HMAC-SHA256, 64 hex characters), stored with its answer: equal prompts have equal
        hashes, as a reproducibility check needs, but without the key nobody can test a guessed question against
        it (a plain SHA-256 allowed that, also for later answers whose history held a forgotten question)."""
        return hmac.new(self._key, b"prompt:" + payload, hashlib.sha256).hexdigest()

    def fingerprint(self) -> str:
        """Which key this is, without revealing it: stored with the data, so that data pseudonymised under one
        key is never silently mixed with pseudonyms made under another (`KeyMismatch`)."""
        return hmac.new(self._key, b"culturebot:key-check", hashlib.sha256).hexdigest()[:16]


class KeyMismatch(Exception):
    """The database's pseudonyms were made with another key than the one loaded."""

    def __init__(self, stored: str, loaded: str, *, missing_key_file: Path | None = None) -> None:
        super().__init__(stored, loaded)
        self.missing_key_file = missing_key_file  # the key file was not there (a new key was made, then removed)


def load_or_create_key(settings: Settings) -> tuple[bytes, bool]:
    """The key from CULTUREBOT_PSEUDONYM_KEY, else from the key file, created on first use; and whether this call
    created the file."""
    if settings.pseudonym_key is not None:
        return settings.pseudonym_key.get_secret_value().encode(), False
    path: Path = settings.pseudonym_key_file
    if path.exists():
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        if len(key) < 16:
            raise ValueError(f"{path} holds a key shorter than 16 bytes; restore it from your backup")
        # Once it is known to be the key: a damaged file is refused as it is (restored from the backup, not fixed).
        make_private([path], path, "it holds the key that links pseudonyms to members")
        return key, False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    # O_EXCL: two processes starting at once must not each write a different key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())  # a power cut must not leave an empty key file behind a database using it
    log.warning("created a new pseudonymisation key in %s: back it up with the database (see README)", path)
    return key, True
