"""Fit ratings from reactions: which emoji means what, and how a reaction changes the record."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.pseudonyms import Pseudonymizer
from bot.storage import Rating, RatingSource, Storage


@dataclass(frozen=True, slots=True)
class RatingScale:
    """Rating emojis, best fit first; the best gets the highest value."""

    emojis: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.emojis)

    def value_of(self, emoji: str) -> int | None:
        """The rating an emoji stands for, or None if it is not a rating emoji."""
        try:
            return self.size - self.emojis.index(emoji)
        except ValueError:
            return None


class RatingChange(StrEnum):
    STORED = "stored"
    REMOVED = "removed"
    IGNORED = "ignored"


async def apply_reaction(
    storage: Storage,
    pseudonyms: Pseudonymizer,
    scale: RatingScale,
    *,
    message_id: int,
    user_id: int,
    emoji: str,
    added: bool,
) -> RatingChange:
    """Store, replace or remove a member's rating after a reaction on one of the bot's answers.

    Adding a rating emoji sets the member's one rating of that answer (a second emoji replaces
    the first); removing it deletes the rating only if it is still the current one. Replaying
    the same event changes nothing, so a gateway event delivered twice counts once.
    """
    value = scale.value_of(emoji)
    if value is None:
        return RatingChange.IGNORED
    answer = await storage.answer_for_message(message_id)
    if answer is None:
        return RatingChange.IGNORED
    rater = pseudonyms.member(user_id)
    if not added:
        removed = await storage.delete_rating(answer.answer_id, rater, value=value)
        return RatingChange.REMOVED if removed else RatingChange.IGNORED
    await storage.put_rating(
        Rating(
            answer_id=answer.answer_id,
            rater_hash=rater,
            value=value,
            scale_size=scale.size,
            is_asker=rater == answer.asker_hash,
            source=RatingSource.REACTION,
        )
    )
    return RatingChange.STORED
