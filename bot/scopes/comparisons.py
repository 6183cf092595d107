"""Randomized comparisons of scope versions: did the new version help, with time held equal?

Comparing fit before and after a scope change mixes the change with everything else that changed over
time (other questions, other raters, the news). A comparison runs both versions at once instead: while
it runs, each member who asks is assigned, at random, to the server's current version or to the
alternative one, and the answer records its comparison and arm. The digest then compares the arms' fit
over the same days, questions and raters.

Assignment is by member, not by question: a keyed pseudonym hashed with the comparison's id decides,
so a member always gets the same version during one comparison (their conversations stay consistent
and they never see both), and nobody can choose their arm. An answer whose conversation holds an answer under
another version (a reply to a member's answer in the other arm, a shared thread, a conversation from before the
comparison under another version) is left out of the comparison: it would reflect both versions. Members are not
told their arm; the scope itself says nothing about it either.

A comparison ends when a moderator stops it or when the server's scope changes (the storage ends it in
the same transaction as the change): its arms would otherwise no longer be what was compared.
"""

from __future__ import annotations

import hashlib

from bot.errors import UserFacingError
from bot.scopes.manage import require_valid, stored_version
from bot.storage import Arm, Comparison, Storage

MIN_SHARE_PERCENT = 10
MAX_SHARE_PERCENT = 90


def assign_arm(comparison_id: int, asker_hash: str, alternative_share: float) -> Arm:
    """The member's arm in a comparison: the same every time, uniform over members, unpredictable to them."""
    digest = hashlib.sha256(f"comparison:{comparison_id}:{asker_hash}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64  # uniform on [0, 1)
    return Arm.ALTERNATIVE if draw < alternative_share else Arm.CURRENT


def describe(comparison: Comparison) -> str:
    """One line for moderators: which versions, for how many members, since when (and how it ended)."""
    share = comparison.alternative_share
    current = "current" if comparison.ended_at is None else "then current"  # the scope may have moved on since
    text = (
        f"Comparison #{comparison.comparison_id}: version {comparison.current.number} ({current}) for "
        f"{1 - share:.0%} of members against version {comparison.alternative.number} for {share:.0%}, "
        f"since {comparison.started_at[:16].replace('T', ' ')} UTC"
    )
    if comparison.ended_at is not None:
        text += f", ended {comparison.ended_at[:16].replace('T', ' ')} UTC ({comparison.end_reason or 'stopped'})"
    return text + "."


async def start_comparison(
    storage: Storage, guild_id: int, actor_id: int, alternative_number: int, share_percent: int
) -> Comparison:
    """Compare the current version with version `alternative_number`; a clear error when it cannot start."""
    if not MIN_SHARE_PERCENT <= share_percent <= MAX_SHARE_PERCENT:
        raise UserFacingError(
            f"The share must be between {MIN_SHARE_PERCENT}% and {MAX_SHARE_PERCENT}% (got {share_percent}%)."
        )
    current = await storage.current_scope(guild_id)
    if current is None:
        raise UserFacingError(
            "There is no declared scope to compare with: declare one with `/scope use` or `/scope upload` first."
        )
    alternative = await stored_version(storage, guild_id, alternative_number)
    if alternative.version_id == current.version_id or alternative.content_sha256 == current.content_sha256:
        raise UserFacingError(
            f"Version {alternative_number} has the same content as the current version ({current.number}): "
            "choose a version that differs."
        )
    require_valid(alternative, "compared")  # an arm under a version that does not parse would get no answers
    running = await storage.running_comparison(guild_id)
    if running is not None:
        raise UserFacingError(f"{describe(running)} Stop it with `/scope compare-stop` before starting another.")
    started = await storage.start_comparison(
        guild_id, actor_id, current.version_id, alternative.version_id, share_percent / 100
    )
    if started is None:  # the scope changed or another moderator started one in the meantime
        raise UserFacingError("The scope or its comparison changed just now; check `/scope compare-status` and retry.")
    return started


async def stop_comparison(storage: Storage, guild_id: int, actor_id: int) -> Comparison:
    """End the running comparison; a clear error when none runs."""
    ended = await storage.end_comparison(guild_id, actor_id, "stopped by a moderator")
    if ended is None:
        raise UserFacingError("No comparison is running; `/scope compare` starts one.")
    return ended
