"""Fit ratings: storing, replacing and removing a member's rating, only ever with their consent."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from enum import StrEnum

from bot.digests.deletion import Deletion
from bot.feedback.consent import ConsentState, consent_state, consent_version
from bot.feedback.scales import RatingScale, answer_scale
from bot.pseudonyms import Pseudonymizer
from bot.storage import AnswerRecord, ConsentChanged, GuildSettings, Rating, RatingSource, Storage

Deleting = Callable[[int], AbstractAsyncContextManager[Deletion]]  # `deleting_member_data` of one server


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
    keep_button: bool = False,
) -> RatingChange:
    """Store the member's one rating of `answer` (replacing an earlier one) if they consented.

    `scale`: the scale the member rated on (a button under an answer made before the server changed its scale
    keeps the scale it showed); by default the server's. `keep_button`: leave a rating given with a button as it
    is: for a rating worked out from reactions read from Discord a moment ago, which a click since is newer than.

    Returns only after the rating is committed, so a confirmation shown after STORED is never a lie; IGNORED when
    `keep_button` kept a button rating.
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
    scale = scale or answer_scale(answer, settings)
    if value not in {option.value for option in scale.options}:
        return RatingChange.IGNORED
    try:
        stored = await storage.put_rating(
            Rating(
                answer_id=answer.answer_id,
                rater_hash=rater,
                value=value,
                scale_size=scale.size,
                is_asker=rater == answer.asker_hash,
                source=source,
            ),
            consent_version=consent_version(settings),
            keep_button=keep_button,
        )
    except ConsentChanged:  # declined or withdrawn while this rating was handled: the later choice wins
        now = consent_state(await storage.consent(answer.guild_id, rater), settings)
        return RatingChange.DECLINED if now is ConsentState.DECLINED else RatingChange.NEEDS_CONSENT
    # Not stored: `keep_button` left the member's newer button rating in place.
    return RatingChange.STORED if stored else RatingChange.IGNORED


async def record_read_reaction(
    storage: Storage,
    pseudonyms: Pseudonymizer,
    answer: AnswerRecord,
    user_id: int,
    value: int,
    settings: GuildSettings,
) -> RatingChange:
    """Store the rating a member's reactions showed when read from Discord a moment ago (taking back a reaction,
    the catch-up, the store after agreeing). A rating button they clicked since is newer, and stays."""
    return await record_rating(
        storage,
        pseudonyms,
        answer,
        user_id=user_id,
        value=value,
        source=RatingSource.REACTION,
        settings=settings,
        keep_button=True,
    )


async def may_store_read_reaction(
    storage: Storage, rater: str, answer_id: int, current: Rating | None, value: int
) -> bool:
    """Whether a rating reaction of `value` read from Discord (its time unknown) may become the member's rating of
    the answer, in place of `current` (their stored rating, if any): when it is the value `current` replaced, or
    when their consent has covered the answer without a break since it was posted. Else it may predate a decline
    or a forget request, which dropped it."""
    if current is not None and current.previous_value == value:
        return True
    return await storage.consent_covered_answer(rater, answer_id)


async def apply_reaction(
    storage: Storage,
    pseudonyms: Pseudonymizer,
    *,
    message_id: int,
    user_id: int,
    emoji: str,
    added: bool,
    still_reacting: Callable[[AnswerRecord, Callable[[str], int | None]], Awaitable[set[int]]] | None = None,
    deleting: Deleting | None = None,
) -> tuple[RatingChange, AnswerRecord | None, int | None]:
    """Handle a reaction on any message: (what happened, the answer it was on, the rating value).

    `deleting(guild_id)` (the bot's `deleting_member_data`) is around the change a rating taken back makes, which
    deletes what the member took back: their server's digests not posted yet are made again without it.

    Adding a rating emoji sets the member's rating (a second emoji replaces the first). Removing one changes
    something only while it is the current rating, and needs no consent check: `still_reacting` (asked only then)
    gives the rating values the member still shows on the answer's messages. The same emoji left on another part
    of a long answer keeps the rating; one other rating emoji left becomes the rating, as if just added (a member
    who reacted ✅ then 🤔 and takes 🤔 back still shows ✅), when their consent covered the answer since it was
    posted (else that reaction may predate a decline or a forget request); none, or several (which came last cannot
    be told, as in the catch-up), and the rating is deleted. Without `still_reacting`, a removal always deletes.
    """
    answer = await storage.answer_for_message(message_id)
    if answer is None:
        return RatingChange.IGNORED, None, None
    settings = await storage.guild_settings(answer.guild_id)
    # Read with the scale the answer's controls showed: a server that changed its scale since still gets its
    # older answers' reactions (✅ under an answer posted with fit3), as their buttons do.
    value = answer_scale(answer, settings).value_of(emoji)
    if value is None:
        return RatingChange.IGNORED, answer, None
    if not added:
        return await _remove_reaction(
            storage,
            pseudonyms,
            answer,
            settings,
            user_id=user_id,
            value=value,
            still_reacting=still_reacting,
            deleting=deleting,
        )
    change = await record_rating(
        storage, pseudonyms, answer, user_id=user_id, value=value, source=RatingSource.REACTION, settings=settings
    )
    return change, answer, value


async def _remove_reaction(
    storage: Storage,
    pseudonyms: Pseudonymizer,
    answer: AnswerRecord,
    settings: GuildSettings,
    *,
    user_id: int,
    value: int,
    still_reacting: Callable[[AnswerRecord, Callable[[str], int | None]], Awaitable[set[int]]] | None,
    deleting: Deleting | None = None,
) -> tuple[RatingChange, AnswerRecord | None, int | None]:
    """A rating emoji taken back (see `apply_reaction`). Discord is asked only when the emoji was the current
    rating: taking back an older, replaced reaction, or one never stored, cannot change anything. Nor can taking
    back a reaction under a rating given with a button: a reaction stores its own source, so the click came after
    it (the reaction catch-up leaves button ratings alone too)."""
    rater = pseudonyms.member(user_id)
    current = await storage.rating(answer.answer_id, rater)
    if current is None or current.value != value or current.source is RatingSource.BUTTON:
        return RatingChange.IGNORED, answer, value
    remaining = (
        set() if still_reacting is None else await still_reacting(answer, answer_scale(answer, settings).value_of)
    )
    if value in remaining:
        return RatingChange.IGNORED, answer, value
    # Only the database change is inside: digests being made wait for it, and not for Discord's answer above.
    async with deleting(answer.guild_id) if deleting is not None else contextlib.nullcontext(Deletion()) as deletion:
        # The other reaction was added at a time Discord does not say: perhaps before the member declined or asked
        # to be forgotten, which dropped it. It becomes the rating when it is the one this rating replaced (a
        # decline or a forget request deletes ratings, so that one was given under their consent), or when their
        # consent has covered the answer without a break since it was posted; otherwise the removal just deletes.
        if len(remaining) == 1 and await may_store_read_reaction(
            storage, rater, answer.answer_id, current, next(iter(remaining))
        ):
            [left] = remaining
            change = await record_read_reaction(storage, pseudonyms, answer, user_id, left, settings)
            if change is RatingChange.STORED:
                deletion.deleted = True  # the value taken back is replaced: it is gone too
                return change, answer, left
            # Not stored (consent to ask again, or declined meanwhile): the removal itself still needs no consent.
        removed = await storage.delete_rating(answer.answer_id, rater, value=value, source=RatingSource.REACTION)
        deletion.deleted = bool(removed)
    return (RatingChange.REMOVED if removed else RatingChange.IGNORED), answer, value
