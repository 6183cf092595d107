"""Fit ratings by reaction and button, consent prompts, and comments by reply."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import discord
from discord.ext import commands, tasks

from bot.channel_access import is_own_thread
from bot.errors import DISCORD_FAILURES, UserFacingError
from bot.feedback.catch_up import CatchUpCounts, member_rating_reactions, reconcile_answer, store_pending_reactions
from bot.feedback.comments import CommentResult, follow_reply_edit, reply_comment_text, save_comment
from bot.feedback.consent import PENDING_FOR, AskCooldown, PendingReactions
from bot.feedback.ratings import RatingChange, apply_reaction
from bot.feedback.scales import answer_scale
from bot.feedback.views import DYNAMIC_ITEMS, AskConsentButton, CommentButton, submit_comment_form
from bot.locks import KeyedLocks
from bot.runtime import CultureBot
from bot.storage import AnswerRecord, CommentSource, ConsentLevel

log = logging.getLogger(__name__)

ASK_AGAIN_AFTER = 600.0  # seconds before a member who keeps reacting is asked about consent again
NOTE_RETRY_AFTER = 60.0  # seconds before a note Discord refused (no Send Messages there, say) is tried again
PROMPT_LIFETIME = 300.0  # the channel note asking for consent deletes itself after this long
# A "fit: ..." reply not kept (no choice made, ratings only, or declined), said in public, so it names no choice.
REPLY_NOT_KEPT = (
    "Not kept as a research comment. **Comment** shows you privately why, and lets you choose and send it again; "
    "`/privacy status` shows what you agreed to."
)
REACTION_CONCURRENCY = 8
PRUNE_PENDING_EVERY = 3600.0  # expired pending reactions are forgotten this often: none is held past both together


# Where the bot may not add the 📝 reaction that confirms a reply comment: a brief reply says it instead.
COMMENT_SAVED = "📝 Comment saved."


class Feedback(commands.Cog):
    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot
        self._asked = AskCooldown(ASK_AGAIN_AFTER, retry_after=NOTE_RETRY_AFTER)
        # Every rating reaction of a member who has not chosen (not only the one the note names) waits for them.
        self._pending = PendingReactions(PENDING_FOR, prune_every=PRUNE_PENDING_EVERY)
        # A burst of reactions is handled a few at a time, so ratings commit in arrival order instead of every
        # handler first queueing its reads behind the database lock.
        self._reactions = asyncio.Semaphore(REACTION_CONCURRENCY)
        self._members = KeyedLocks()
        # Reply comments being stored, by message id: an edit or a deletion of the message waits for the store,
        # which would otherwise commit the text as it was (or a comment whose message is gone) after it.
        self._storing: dict[int, asyncio.Event] = {}

    async def cog_load(self) -> None:
        # Controls under answers keep working across restarts: their custom ids carry all they need.
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.prune_pending.start()

    async def cog_unload(self) -> None:
        self.prune_pending.cancel()
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    @tasks.loop(seconds=PRUNE_PENDING_EVERY)
    async def prune_pending(self) -> None:
        """Forget the expired reactions of members who never chose, even when nobody reacts any more (reacting
        prunes too): memory holds none past `PENDING_FOR` plus `PRUNE_PENDING_EVERY`."""
        self._pending.prune(time.monotonic())

    async def _on_reaction(self, event: discord.RawReactionActionEvent, *, added: bool) -> None:
        if event.guild_id is None or self.bot.user is None or event.user_id == self.bot.user.id:
            return
        # While this answer's reactions are being read back (after a reconnect, or a moderator's removal of all
        # reactions), this newer event waits for it; one that starts meanwhile waits for this event.
        # One member's reactions are applied in the order they came: a quick ✅ then un-✅ would otherwise race,
        # and the removal could finish before the rating it removes was written.
        async with (
            self.bot.reaction_gate.passing(event.message_id),
            self._members.hold(event.user_id),
            self._reactions,
        ):
            change, answer, value = await apply_reaction(
                self.bot.storage,
                self.bot.pseudonyms,
                message_id=event.message_id,
                user_id=event.user_id,
                emoji=str(event.emoji),
                added=added,
                still_reacting=functools.partial(self._still_reacting, event.user_id),
                # A rating taken back is deleted (PRIVACY.md): the server's digests not posted yet are made again.
                deleting=self.bot.deleting_member_data,
            )
            if change is RatingChange.NEEDS_CONSENT and answer is not None and value is not None:
                self._pending.note((answer.guild_id, event.user_id), answer.answer_id, value, time.monotonic())
            elif not added and answer is not None and value is not None:
                # Taken back before choosing: not kept (PRIVACY.md), even if their reactions cannot be read again;
                # unless the same emoji is still on another part of a long answer.
                key = (answer.guild_id, event.user_id)
                if value in self._pending.values(key, answer.answer_id, time.monotonic()) and value not in (
                    await self._shown_on_other_parts(event.user_id, answer)
                ):
                    self._pending.taken_back(key, answer.answer_id, value)
            elif change is RatingChange.STORED and answer is not None:
                # Stored live, so the member has agreed: a reaction of theirs on this answer still waiting (from
                # before they agreed, and about to be stored by `on_consent_chosen`) is older, and must not replace
                # this one.
                self._pending.discard((answer.guild_id, event.user_id), answer.answer_id)
        if change is RatingChange.NEEDS_CONSENT and answer is not None and value is not None:
            await self._ask_for_consent(event, answer, value)

    async def _shown_on_other_parts(self, user_id: int, answer: AnswerRecord) -> set[int]:
        """The rating values the member still shows on a long answer's messages (none read for a one-message
        answer: its only message no longer shows the one just taken back)."""
        if len(await self.bot.storage.answer_message_ids(answer.answer_id)) < 2:
            return set()
        settings = await self.bot.storage.guild_settings(answer.guild_id)
        return await self._still_reacting(user_id, answer, answer_scale(answer, settings).value_of)

    async def _still_reacting(
        self, user_id: int, answer: AnswerRecord, value_of: Callable[[str], int | None]
    ) -> set[int]:
        """The rating values the member still shows on the answer's messages (asked only when they took back their
        current rating); none if they cannot be read, so the removal deletes as it always did."""
        try:
            return await member_rating_reactions(self.bot, self.bot.storage, answer, user_id, value_of)
        except DISCORD_FAILURES as error:
            log.warning("answer %d: could not read the member's other rating reactions: %s", answer.answer_id, error)
            return set()

    async def _ask_for_consent(self, event: discord.RawReactionActionEvent, answer: AnswerRecord, value: int) -> None:
        """A short note in the channel (no DMs): the button opens the consent notice privately."""
        key, now = (answer.guild_id, event.user_id), time.monotonic()
        if not self._asked.should_ask(key, now):
            return
        # A thread discord.py has not cached (one it was never told about, or dropped when archived) is still
        # where the member reacted: a partial channel sends there all the same.
        cached = self.bot.get_channel(event.channel_id)
        channel: discord.abc.Messageable = (
            cached
            if isinstance(cached, discord.abc.Messageable)
            else self.bot.get_partial_messageable(event.channel_id, guild_id=event.guild_id)
        )
        view = discord.ui.View(timeout=None)
        view.add_item(AskConsentButton(answer.answer_id, value, event.user_id))  # only they get the rating
        delivered = False
        try:
            await channel.send(
                f"<@{event.user_id}> thanks for rating! Your rating is not kept unless you agree to take part in "
                "the research. Read what is collected and choose:",
                view=view,
                delete_after=PROMPT_LIFETIME,
                # Whole, not merged with the client's default: unset fields would allow @everyone and roles.
                allowed_mentions=discord.AllowedMentions(
                    everyone=False, roles=False, replied_user=False, users=[discord.Object(event.user_id)]
                ),
            )
            delivered = True
        except discord.HTTPException as error:
            log.warning("could not ask member for consent in channel %d: %s", event.channel_id, error)
        finally:
            # The member was not asked, so the full cooldown starts only with a note they got; but Discord counts
            # refused requests, so their next reactions try again only after a short delay, not at every one.
            if not delivered:
                self._asked.failed(key, now)

    @contextlib.asynccontextmanager
    async def pending_turn(self, guild_id: int, user_id: int, answer_id: int) -> AsyncIterator[tuple[int, ...]]:
        """The member's turn, for the block (see `PendingValues`), with the values of their rating reactions on the
        answer waiting for their choice, the latest last: a reaction of theirs being handled is counted, and those
        that come later are handled after the block (in which the consent button stores the member's choice and
        that rating)."""
        async with self._members.hold(user_id):
            yield self._pending.values((guild_id, user_id), answer_id, time.monotonic())

    @commands.Cog.listener()
    async def on_consent_chosen(
        self, guild_id: int, user_id: int, level: ConsentLevel, carried_answer_id: int | None
    ) -> None:
        """A member chose (see `CONSENT_CHOSEN`): store the ratings of the reactions they added before, or forget
        them. In the member's turn, after the reactions already being handled, before those that come later."""
        key = (guild_id, user_id)
        async with self._members.hold(user_id):
            if level is ConsentLevel.DECLINED:
                self._pending.drop(key)
                return
            pending = self._pending.take(key, time.monotonic())
            if carried_answer_id is not None:
                pending.pop(carried_answer_id, None)  # the consent button stores that one itself
            if not pending:
                return
            stored = await store_pending_reactions(
                self.bot, self.bot.storage, self.bot.pseudonyms, guild_id=guild_id, user_id=user_id, pending=pending
            )
        log.info("stored %d of %d rating reactions a member added before agreeing", stored, len(pending))

    @commands.Cog.listener()
    async def on_member_forgotten(self, user_id: int) -> None:
        """The member asked to be forgotten (`MEMBER_FORGOTTEN`): reactions they added before choosing go, so a
        later agreement stores only what they give from then on. In their turn, after reactions being handled."""
        async with self._members.hold(user_id):
            self._pending.drop_member(user_id)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(event, added=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, event: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(event, added=False)

    @commands.Cog.listener()
    async def on_raw_reaction_clear(self, event: discord.RawReactionClearEvent) -> None:
        await self._on_reactions_cleared(event.message_id)

    @commands.Cog.listener()
    async def on_raw_reaction_clear_emoji(self, event: discord.RawReactionClearEmojiEvent) -> None:
        await self._on_reactions_cleared(event.message_id, str(event.emoji))

    async def _on_reactions_cleared(self, message_id: int, emoji: str | None = None) -> None:
        """A moderator removed every reaction (or every one of `emoji`) from a message: Discord sends no removal
        per member, so an answer's ratings are brought in line with the reactions left, as after a reconnect."""
        answer = await self.bot.storage.answer_for_message(message_id)
        if answer is None:
            return
        if emoji is not None:
            settings = await self.bot.storage.guild_settings(answer.guild_id)
            if answer_scale(answer, settings).value_of(emoji) is None:
                return  # not a rating emoji: no rating went with it, and nothing is read from Discord
        counts = CatchUpCounts()
        await reconcile_answer(
            self.bot,
            self.bot.storage,
            self.bot.pseudonyms,
            self.bot.reaction_gate,
            answer.answer_id,
            counts,
            self.bot.deleting_member_data,
            slot=self._reactions,
        )
        log.info(
            "answer %d: reactions removed by a moderator; %d rating(s) removed, %d stored%s",
            answer.answer_id,
            counts.deleted,
            counts.stored,
            f" (not read: {'; '.join(counts.errors)})" if counts.errors else "",
        )

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await submit_comment_form(interaction)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A reply to an answer that starts with the comment prefix is a comment on it."""
        if message.author.bot or message.guild is None or self.bot.user is None:
            return
        # A reply to an answer, or, in the thread the bot opened for a conversation, a message of its own there: the
        # thread is one conversation, so "fit: ..." is about its newest answer (cogs/answers.py does not answer it).
        if message.reference is None and not is_own_thread(message.channel, self.bot.user):
            return
        text = reply_comment_text(message.content, self.bot.settings.comment_prefix, self.bot.user.id)
        if text is None:
            return
        stored = self._storing[message.id] = asyncio.Event()
        try:
            if message.reference is not None:
                if message.reference.message_id is None:
                    return
                answer = await self.bot.storage.answer_for_message(message.reference.message_id)
            else:
                answer = await self.bot.storage.latest_answer_in(message.channel.id)
            if answer is None:
                return
            result = await save_comment(
                self.bot.storage,
                self.bot.pseudonyms,
                answer,
                user_id=message.author.id,
                text=text,
                source=CommentSource.REPLY,
                message_id=message.id,
            )
        except UserFacingError as error:
            await self._reply_briefly(message, str(error))
            return
        finally:
            stored.set()
            del self._storing[message.id]
        if result is CommentResult.STORED:
            try:
                await message.add_reaction("📝")  # confirmed only now that it is committed
            except discord.HTTPException as error:  # no Add Reactions there, or the message is gone: it is saved
                log.warning("could not confirm comment %d with a reaction: %s", message.id, error)
                if isinstance(error, discord.Forbidden):  # a channel answered with rating buttons only, say
                    await self._reply_briefly(message, COMMENT_SAVED)
        elif result in (CommentResult.NEEDS_CONSENT, CommentResult.NOT_ALLOWED, CommentResult.DECLINED):
            # The same public line whatever the member's choice: the channel must not learn it. Its Comment button
            # answers privately, as under the answer: the notice to choose from, or why comments are not kept.
            view = discord.ui.View(timeout=None).add_item(CommentButton(answer.answer_id))
            await self._reply_briefly(message, REPLY_NOT_KEPT, view)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, event: discord.RawMessageDeleteEvent) -> None:
        if event.guild_id is not None:
            await self._comment_messages_deleted([event.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, event: discord.RawBulkMessageDeleteEvent) -> None:
        if event.guild_id is not None:
            await self._comment_messages_deleted(sorted(event.message_ids))

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, event: discord.RawThreadDeleteEvent) -> None:
        """A deleted thread takes its messages with it, without an event for each: its reply comments go."""
        await self._channel_deleted(event.guild_id, event.thread_id)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """So does a deleted channel, with its threads."""
        await self._channel_deleted(channel.guild.id, channel.id)

    async def _channel_deleted(self, guild_id: int, channel_id: int) -> None:
        async with self.bot.deleting_member_data(guild_id) as deletion:
            removed = await self.bot.storage.delete_reply_comments_in(channel_id)
            deletion.deleted = removed > 0
        if removed:
            log.info("deleted %d comment(s) made in channel %d, which was deleted", removed, channel_id)

    async def _comment_messages_deleted(self, message_ids: list[int]) -> None:
        """A member who deletes their "fit: ..." reply takes the comment back (a moderator deleting it too): the
        research data follows the channel, as it does for a reaction taken back."""
        await self._stored_first(message_ids)
        async with contextlib.AsyncExitStack() as held:
            for message_id in sorted(message_ids):  # in order: a read-back holds one at a time
                await held.enter_async_context(self.bot.comment_messages.hold(message_id))
            async with self.bot.deleting_member_data() as deletion:
                removed = await self.bot.storage.delete_comments_of_messages(message_ids)
                deletion.deleted = removed > 0
        if removed:
            log.info("deleted %d comment(s) whose reply message was deleted", removed)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, event: discord.RawMessageUpdateEvent) -> None:
        """A member who edits their "fit: ..." reply changes the comment; removing the prefix takes it back."""
        data: dict[str, Any] = dict(event.data)  # an update may come without some fields (typed as always there)
        content = data.get("content")
        author = data.get("author") or {}
        # Comments are members' replies: other edits (the bot's own streaming edits, other bots', embeds unfurled)
        # cost no database read. Empty content is not an edit to read: without the Message Content intent an
        # edit that drops the bot's mention arrives empty.
        if event.guild_id is None or not content or author.get("bot"):
            return
        if not data.get("message_reference") and not is_own_thread(
            self.bot.get_channel(event.channel_id), self.bot.user
        ):
            return
        if self.bot.user is None or "id" not in author:
            return
        text = reply_comment_text(content, self.bot.settings.comment_prefix, self.bot.user.id)
        await self._stored_first([event.message_id])
        # After a read-back of this message that is under way: its older text must not replace this one.
        async with self.bot.comment_messages.hold(event.message_id), self.bot.deleting_member_data() as deletion:
            changed = await follow_reply_edit(
                self.bot.storage,
                self.bot.pseudonyms,
                event.guild_id,
                int(author["id"]),
                event.message_id,
                text,
            )
            deletion.deleted = changed is not None
        if changed is not None:
            log.info("comment of message %d %s after its member edited it", event.message_id, changed)

    async def _stored_first(self, message_ids: list[int]) -> None:
        for message_id in message_ids:
            storing = self._storing.get(message_id)
            if storing is not None:
                await storing.wait()

    async def _reply_briefly(
        self, message: discord.Message, text: str, view: discord.ui.View = discord.utils.MISSING
    ) -> None:
        try:
            await message.reply(text, view=view, mention_author=False, delete_after=PROMPT_LIFETIME)
        except discord.HTTPException as error:
            log.warning("could not reply to comment %d: %s", message.id, error)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Feedback(bot))
