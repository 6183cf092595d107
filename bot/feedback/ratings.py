"""Fit ratings: storing, replacing and removing a member's rating, only ever with their consent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from bot.feedback.consent import ConsentState, consent_state, consent_version
from bot.feedback.scales import RatingScale, scale_named
from bot.pseudonyms import Pseudonymizer
from bot.storage import AnswerRecord, ConsentChanged, GuildSettings, Rating, RatingSource, Storage


class RatingChange(StrEnum):
    STORED = "stored"
    REMOVED = "removed"
    IGNORED = "ignored"  # not a rating emoji, not an answer, or nothing to remove
    NEEDS_CONSENT = "needs_consent"  # not stored: the member has not agreed to the current notice
    DECLINED = "declined"  # not stored: the member said no


async def record_rating(
    storage: Storage,
    pseudonyms: Pseudonymizer,
    answer: AnswerRecord,
    *,
    user_id: int,
    value: int,
    source: RatingSource,
    settings: GuildSettings | None = None,
    scale: RatingScale | None = None,
) -> RatingChange:
    """Store the member's one rating of `answer` (replacing an earlier one) if they consented.

    `scale`: the scale the member rated on (a button under an answer made before the server changed its scale
    keeps the scale it showed); by default the server's.

    Returns only after the rating is committed, so a confirmation shown after STORED is never a lie.
    Storing the same rating twice changes nothing, so a redelivered event counts once.
    """
    rater = pseudonyms.member(user_id)
    if settings is None:
        settings = await storage.guild_settings(answer.guild_id)
    state = consent_state(await storage.consent(answer.guild_id, rater), settings)
    if state is ConsentState.DECLINED:
        return RatingChange.DECLINED
    if state is ConsentState.ASK:
        return RatingChange.NEEDS_CONSENT
    scale = scale or scale_named(settings.rating_scale)
    if value not in {option.value for option in scale.options}:
        return RatingChange.IGNORED
    try:
        await storage.put_rating(
            Rating(
                answer_id=answer.answer_id,
                rater_hash=rater,
                value=value,
                scale_size=scale.size,
                is_asker=rater == answer.asker_hash,
                source=source,
            ),
            consent_version=consent_version(settings),
        )
    except ConsentChanged:  # declined or withdrawn while this rating was handled: the later choice wins
        now = consent_state(await storage.consent(answer.guild_id, rater), settings)
        return RatingChange.DECLINED if now is ConsentState.DECLINED else RatingChange.NEEDS_CONSENT
    return RatingChange.STORED


async def apply_reaction(
    storage: Storage,
    pseudonyms: Pseudonymizer,
    *,
    message_id: int,
    user_id: int,
    emoji: str,
    added: bool,
    still_reacting: Callable[[AnswerRecord, Callable[[str], int | None]], Awaitable[set[int]]] | None = None,
) -> tuple[RatingChange, AnswerRecord | None, int | None]:
    """Handle a reaction on any message: (what happened, the answer it was on, the rating value).

    Adding a rating emoji sets the member's rating (a second emoji replaces the first); removing it
    deletes the rating only while it is still the current one, and needs no consent check. `still_reacting`
    gives the rating values the member still shows on the answer's messages (a long answer has several, and
    the same emoji may remain on another): a removal of a value still shown deletes nothing.
    """
    answer = await storage.answer_for_message(message_id)
    if answer is None:
        return RatingChange.IGNORED, None, None
    settings = await storage.guild_settings(answer.guild_id)
    value = scale_named(settings.rating_scale).value_of(emoji)
    if value is None:
        return RatingChange.IGNORED, answer, None
    if not added:
        scale = scale_named(settings.rating_scale)
        if still_reacting is not None and value in await still_reacting(answer, scale.value_of):
            return RatingChange.IGNORED, answer, value
        removed = await storage.delete_rating(answer.answer_id, pseudonyms.member(user_id), value=value)
        return (RatingChange.REMOVED if removed else RatingChange.IGNORED), answer, value
    change = await record_rating(
        storage, pseudonyms, answer, user_id=user_id, value=value, source=RatingSource.REACTION, settings=settings
    )
    return change, answer, value
