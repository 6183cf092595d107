"""Rating reactions made while the bot was not connected, read back from Discord when it connects.

Discord replays the events a bot missed only when its gateway session resumes; after a restart or a long
outage, reactions added or removed in the meantime are never delivered. So at each new gateway session the bot
reads the rating reactions on its most recent answers and brings the stored reaction ratings in line with them:

- a rating reaction with no stored rating, or a different one, is stored, exactly as a live reaction would be
  (with the member's consent; members who have not chosen are not prompted, so nobody gets a burst of notes).
  With no stored rating, only when the member's consent has covered ratings since before the answer was posted:
  a reaction that may have come before they agreed, or before they declined or asked to be forgotten (which
  dropped it), is not stored by a later agreement, live or read back;
- a stored rating that came from a reaction whose reaction is gone is deleted (it was removed meanwhile), also
  when the member's other rating reaction cannot be stored in its place (they must first agree to a new notice):
  taking a rating back needs no consent, live or read back;
- a rating given with the buttons is left alone: which of the two came last cannot be told;
- a member with two rating reactions on one answer keeps their stored rating when it is one of them; otherwise
  which came last cannot be told either, and nothing is stored (counted as ambiguous); a stored rating that came
  from a reaction which is gone is deleted all the same, as a live removal deletes it when several other rating
  reactions remain.

Live reactions on an answer wait while that answer is being reconciled (`ReactionGate`), and are applied after:
they are newer than what was read, so the result is the same as if every event had been delivered in order. A
reconciliation waits in turn for the live reactions already being handled on the answer.
An answer whose messages cannot be read (deleted, no access, Discord errors) is left as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import discord

from bot.digests.deletion import Deletion
from bot.errors import DISCORD_FAILURES
from bot.feedback.ratings import Deleting, RatingChange, may_store_read_reaction, record_read_reaction
from bot.feedback.scales import answer_scale
from bot.pseudonyms import Pseudonymizer
from bot.storage import AnswerRecord, RatingSource, Storage, sqlite_timestamp

log = logging.getLogger(__name__)


class ReactionGate:
    """Holds live reaction events on the messages of the answer being reconciled until it is done, and has the
    reconciliation wait for the events already being handled on those messages.

    Without the second half, an event that passed the gate just before a reconciliation began (a member's 🤔 a
    moment before a moderator's "Remove all reactions") could commit its rating after the reconciliation read the
    stored ratings: a rating whose reaction is gone, kept until the next reconnect.
    """

    def __init__(self) -> None:
        self._busy: dict[int, asyncio.Event] = {}
        self._passing: dict[int, int] = {}  # message id -> live events being handled on it
        self._passed: dict[int, asyncio.Event] = {}  # set when the last of them is done

    @contextlib.asynccontextmanager
    async def holding(self, message_ids: Collection[int]) -> AsyncIterator[None]:
        """Hold the messages for the block: one reconciliation at a time on a message (a moderator's clear during the
        read-back of the same answer would otherwise write from its own, older read), live events on them waiting
        until the block ends, and the block starting once the events already being handled are done."""
        await self.wait(*message_ids)
        done = asyncio.Event()
        for message_id in message_ids:
            self._busy[message_id] = done
        try:
            # Events that came later wait above; those already past the gate finish first.
            for message_id in message_ids:
                passed = self._passed.get(message_id)
                if passed is not None:
                    await passed.wait()
            yield
        finally:
            for message_id in message_ids:
                if self._busy.get(message_id) is done:
                    del self._busy[message_id]
            done.set()

    async def wait(self, *message_ids: int) -> None:
        """Return once no reconciliation holds any of the messages (at once, when none does). Nothing is awaited
        after the last check: a caller that claims the messages right after claims them free."""
        while busy := next((self._busy[i] for i in message_ids if i in self._busy), None):
            await busy.wait()

    @contextlib.asynccontextmanager
    async def passing(self, *message_ids: int) -> AsyncIterator[None]:
        """A live event on the messages (one, or all of an answer's): wait while a reconciliation holds any of them,
        then count as being handled on each for the block, so that a reconciliation of the answer starting meanwhile
        waits for the block to end. All at once: holding one while waiting for another could wait for ever on a
        reconciliation that waits for the first."""
        await self.wait(*message_ids)
        # No await between the check in `wait` and these counts: a reconciliation either held this event above or
        # will see it here.
        for message_id in message_ids:
            count = self._passing.get(message_id, 0)
            if count == 0:
                self._passed[message_id] = asyncio.Event()
            self._passing[message_id] = count + 1
        try:
            yield
        finally:
            for message_id in message_ids:
                left = self._passing.pop(message_id) - 1
                if left:
                    self._passing[message_id] = left
                else:
                    self._passed.pop(message_id).set()


@dataclass(frozen=True, slots=True)
class Reconcile:
    """What to change for one answer: ratings to store (member id, value) and to delete (member hash, value)."""

    store: list[tuple[int, int]]
    delete: list[tuple[str, int]]
    ambiguous: int  # members with several rating reactions, none of them their stored rating


def plan_reconcile(
    stored: Mapping[str, tuple[int, RatingSource]],
    present: Mapping[int, Collection[int]],
    member_hash: Callable[[int], str],
) -> Reconcile:
    """The changes that make one answer's stored ratings match its rating reactions (see the module docstring).

    `stored`: member hash → (value, source) of the answer's ratings; `present`: member id → the rating values
    they have reacted with, on any of the answer's messages."""
    store: list[tuple[int, int]] = []
    ambiguous = 0
    kept: set[str] = set()  # members whose stored rating stays, or is replaced by `store`
    for user_id, values in sorted(present.items()):
        rater = member_hash(user_id)
        current = stored.get(rater)
        if current is not None and (current[1] is RatingSource.BUTTON or current[0] in values):
            kept.add(rater)
            continue
        if len(values) == 1:
            kept.add(rater)
            store.append((user_id, next(iter(values))))
        else:
            ambiguous += 1  # and a stored reaction rating, its reaction gone, is deleted below
    delete = [
        (rater, value)
        for rater, (value, source) in sorted(stored.items())
        if source is RatingSource.REACTION and rater not in kept
    ]
    return Reconcile(store, delete, ambiguous)


@dataclass(slots=True)
class CatchUpCounts:
    answers: int = 0  # answers whose reactions were read
    stored: int = 0
    deleted: int = 0
    not_consented: int = 0  # rating reactions of members who have not agreed (or declined): not stored
    ambiguous: int = 0
    unreadable: int = 0  # answers left alone: a message could not be read
    errors: list[str] = field(default_factory=list)


async def catch_up_reactions(
    client: discord.Client,
    storage: Storage,
    pseudonyms: Pseudonymizer,
    gate: ReactionGate,
    *,
    since: datetime,
    limit: int,
    stopping: Callable[[], bool] = lambda: False,
    deleting: Deleting | None = None,
) -> CatchUpCounts:
    """Reconcile the rating reactions of the `limit` newest answers created since `since`, newest first;
    stops between answers once `stopping()` is true (the bot is shutting down). `deleting(guild_id)` (the bot's
    `deleting_member_data`) is told of each answer whose ratings were deleted, taken back while the bot was away:
    that server's digests not posted yet are made again without them."""
    counts = CatchUpCounts()
    for answer_id in await storage.recent_answer_ids(sqlite_timestamp(since), limit):
        if stopping():
            break
        await reconcile_answer(client, storage, pseudonyms, gate, answer_id, counts, deleting)
    return counts


async def reconcile_answer(
    client: discord.Client,
    storage: Storage,
    pseudonyms: Pseudonymizer,
    gate: ReactionGate,
    answer_id: int,
    counts: CatchUpCounts,
    deleting: Deleting | None = None,
    slot: contextlib.AbstractAsyncContextManager[Any] | None = None,
) -> None:
    """Bring one answer's stored reaction ratings in line with its rating reactions on Discord now (see the module
    docstring), adding what changed to `counts`. Also run live when a moderator removes all reactions, or every
    reaction of one emoji, from one of the answer's messages: Discord sends no removal per member then.
    `deleting(guild_id)` is around the changes (not the reading of the reactions): a rating deleted or replaced
    was taken back, and the server's digests not posted yet are made again without it.

    `slot` (the live handlers' limit on reactions handled at once) is taken only once the gate holds the answer's
    messages and the events in flight on them are done: those events take a slot themselves after the gate, so a
    reconciliation holding a slot while it waited for them could wait for ever once every slot was held so."""
    message_ids = await storage.answer_message_ids(answer_id)
    answer = await storage.get_answer(answer_id)
    if answer is None or not message_ids:
        return
    async with gate.holding(message_ids), slot or contextlib.nullcontext():
        settings = await storage.guild_settings(answer.guild_id)
        scale = answer_scale(answer, settings)
        try:
            present = await _rating_reactions(client, answer.channel_id, message_ids, scale.value_of)
        except DISCORD_FAILURES as error:  # Discord refused, failed or could not be reached
            counts.unreadable += 1
            if len(counts.errors) < 5:
                said = f"{error.status} {error.text or error}" if isinstance(error, discord.HTTPException) else error
                counts.errors.append(f"answer {answer_id}: {said!s}")
            return
        counts.answers += 1
        # Ratings given on another scale (the moderators changed it since) are left alone: their emojis
        # are not this scale's, so their members would look as if they had removed their reaction.
        on_scale = [r for r in await storage.ratings_for_answer(answer_id) if r.scale_size == scale.size]
        stored = {r.rater_hash: (r.value, r.source) for r in on_scale}
        ratings = {r.rater_hash: r for r in on_scale}
        plan = plan_reconcile(stored, present, pseudonyms.member)
        counts.ambiguous += plan.ambiguous
        deleted = counts.deleted
        taking_back = deleting(answer.guild_id) if deleting is not None else contextlib.nullcontext(Deletion())
        async with taking_back as deletion:
            for user_id, value in plan.store:
                rater = pseudonyms.member(user_id)
                if not await may_store_read_reaction(storage, rater, answer_id, ratings.get(rater), value):
                    # Perhaps given before the member agreed (or before they declined or asked to be forgotten,
                    # which dropped it): a later agreement keeps only what they give from then on. That holds when
                    # it would replace a rating whose reaction is gone, too: that rating goes all the same.
                    counts.not_consented += 1
                    previous = stored.get(rater)
                    if previous is not None and previous[1] is RatingSource.REACTION:
                        counts.deleted += await storage.delete_rating(
                            answer_id, rater, value=previous[0], source=RatingSource.REACTION
                        )
                    continue
                change = await record_read_reaction(storage, pseudonyms, answer, user_id, value, settings)
                if change is RatingChange.STORED:
                    counts.stored += 1
                elif change in (RatingChange.NEEDS_CONSENT, RatingChange.DECLINED):
                    counts.not_consented += 1
                    # The reaction of the rating stored before (if any) is gone, replaced by this one: it goes all the
                    # same, as a live removal would take it away without asking for consent.
                    previous = stored.get(rater)
                    if previous is not None and previous[1] is RatingSource.REACTION:
                        counts.deleted += await storage.delete_rating(
                            answer_id, rater, value=previous[0], source=RatingSource.REACTION
                        )
            for rater, value in plan.delete:
                counts.deleted += await storage.delete_rating(
                    answer_id, rater, value=value, source=RatingSource.REACTION
                )
            # A rating taken back while the bot was away, deleted or replaced by the member's other reaction.
            replaced = any(pseudonyms.member(user_id) in stored for user_id, _ in plan.store)
            deletion.deleted = counts.deleted > deleted or replaced


async def _rating_reactions(
    client: discord.Client,
    channel_id: int,
    message_ids: Collection[int],
    value_of: Callable[[str], int | None],
    only: int | None = None,
    *,
    skip_deleted: bool = False,
) -> dict[int, set[int]]:
    """Member id → the rating values they reacted with, over the answer's messages (the bot's own left out);
    with `only`, just that member's. With `skip_deleted`, a deleted message of a long answer is read as having no
    reactions (they went with it), and NotFound is raised only when every message is gone."""
    channel = client.get_partial_messageable(channel_id)  # a thread or channel, cached or not
    own = client.user.id if client.user is not None else None
    present: dict[int, set[int]] = {}
    gone: discord.NotFound | None = None
    read = 0
    for message_id in message_ids:
        try:
            message = await channel.fetch_message(message_id)
        except discord.NotFound as error:
            if not skip_deleted:
                raise
            gone = error
            continue
        read += 1
        for reaction in message.reactions:
            value = value_of(str(reaction.emoji))
            if value is None:
                continue  # not a rating emoji
            # Discord lists the members of super reactions apart (a rating like any other when it came in live).
            kinds = [
                kind
                for kind, count, mine in (
                    (None, reaction.normal_count, reaction.me),
                    (discord.ReactionType.burst, reaction.burst_count, reaction.me_burst),
                )
                if count > int(mine)  # skipped when only the bot's own
            ]
            for kind in kinds:
                async for user in reaction.users(type=kind):
                    if user.id != own and (only is None or user.id == only):
                        present.setdefault(user.id, set()).add(value)
    if gone is not None and read == 0:
        raise gone
    return present


async def member_rating_reactions(
    client: discord.Client, storage: Storage, answer: AnswerRecord, user_id: int, value_of: Callable[[str], int | None]
) -> set[int]:
    """The rating values one member has reacted with on the answer's messages now (a few requests). A deleted
    message of a long answer counts as one without reactions; NotFound when all of them are gone.

    (The catch-up, which reconciles every member's ratings at once, leaves an answer alone instead when any of its
    messages cannot be read: a rating whose reaction went with a deleted message was not taken back.)"""
    message_ids = await storage.answer_message_ids(answer.answer_id)
    present = await _rating_reactions(client, answer.channel_id, message_ids, value_of, only=user_id, skip_deleted=True)
    return present.get(user_id, set())


def shown_ratings(noted: Sequence[int], values: Collection[int]) -> list[int]:
    """The ratings `noted` while a member had not chosen (the latest last) that their reactions on the answer still
    show (`values`), in the same order: the last is their rating, the one before it the one it replaced (a member
    who changed 🤔 to ❌ and takes ❌ back after agreeing keeps 🤔). Another rating reaction was added at a time
    Discord does not say, perhaps before they declined or asked to be forgotten: it is never taken."""
    return [value for value in noted if value in values]


async def store_pending_reactions(
    client: discord.Client,
    storage: Storage,
    pseudonyms: Pseudonymizer,
    *,
    guild_id: int,
    user_id: int,
    pending: Mapping[int, Sequence[int]],
) -> int:
    """Store, now that the member agreed, the ratings their reactions still show on the answers they reacted to
    before choosing (`pending`: answer -> the values noted then, the latest last, see `PendingReactions`); how many
    were stored.

    Each answer's reactions are read again, as for the reaction the consent note names: the member may have
    changed or taken them back since. An answer whose message (or channel) is gone stores nothing: its reactions
    went with it. When they cannot be read for another reason, the latest noted value is stored, as there."""
    stored = 0
    settings = await storage.guild_settings(guild_id)
    for answer_id, noted in pending.items():
        answer = await storage.get_answer(answer_id)
        if answer is None or answer.guild_id != guild_id:
            continue  # deleted meanwhile
        value_of = answer_scale(answer, settings).value_of
        try:
            shown = shown_ratings(noted, await member_rating_reactions(client, storage, answer, user_id, value_of))
        except discord.NotFound:
            # Deleted since the member reacted (a pending reaction can be a day old): no reaction is left to store.
            log.info("answer %d: its message is gone, so the member's reaction on it is not stored", answer_id)
            continue
        except DISCORD_FAILURES as error:
            # Forbidden (the bot may no longer read that channel), Discord failing after discord.py's retries, or
            # not reached (discord.py retries no dropped connection): the reaction was there when the member added
            # it and nothing says it went, so it is kept as noted, and the member's other reactions are still read.
            log.warning("answer %d: could not read the member's reactions again: %s", answer_id, error)
            shown = [noted[-1]]
        change = None
        for value in shown:  # the older first: the rating then remembers the one it replaced
            change = await record_read_reaction(storage, pseudonyms, answer, user_id, value, settings)
        stored += change is RatingChange.STORED
    return stored
