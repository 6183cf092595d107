"""Members' pseudonyms in the research data files: each server's own, derived from the stored one.

The database holds one keyed pseudonym per member (bot/pseudonyms.py), the same in every server. The data files a
server's digests and exports give its research team carry another, `export_pseudonym`, derived one way from the
server's id and the stored pseudonym: one server's tables join, while two servers' files do not link a member. The
bot can tell a member theirs (`/privacy export`), since it can recompute the stored one. Kept apart from the exports
(and numpy) so that the privacy commands can use it without loading the digest code.
"""

from __future__ import annotations

import hashlib

PSEUDONYM_LENGTH = 32  # hex characters, as long as the stored pseudonyms (bot/pseudonyms.py)
FORGOTTEN_PREFIX = "forgotten-"  # the asker of an answer whose member asked to be forgotten: linked to nobody


def export_pseudonym(guild_id: int, stored: str) -> str:
    """A member's pseudonym in the data files of one server: SHA-256 of the server's id and the member's stored
    pseudonym (itself a keyed hash), as long as the stored ones. One way: the files give neither the stored
    pseudonym nor the member's pseudonym in another server. "forgotten-<answer id>" stays as it is (no member)."""
    if stored.startswith(FORGOTTEN_PREFIX):
        return stored
    return hashlib.sha256(f"culturebot-export:{guild_id}:{stored}".encode()).hexdigest()[:PSEUDONYM_LENGTH]
