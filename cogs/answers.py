"""Answer members: on mention, in reply to the bot's answers (a conversation), in the bot's threads, and /ask."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.answers.pipeline import RESTARTING, Question
from bot.answers.senders import channel_sender, followup_sender, private_line_sender
from bot.channel_access import can_answer_in, is_own_thread
from bot.digests.text import excerpt, safe_text, strip_mention_ids
from bot.errors import UserFacingError
from bot.feedback.comments import reply_comment_text
from bot.feedback.privacy import rename_thread_of_deleted_question
from bot.runtime import CultureBot
from bot.wording import has_visible_text

log = logging.getLogger(__name__)

THREAD_NAME_CHARS = 90
_TIMESTAMP = re.compile(r"<t:-?\d+(?::[tTdDfFR])?>")

EMPTY_MENTION_HINT = "Ask me a question after the mention, e.g. “@culturebot how do I greet my partner's grandparents?”"


def question_text(message: discord.Message, bot_user_id: int) -> str:
    """The message without the mention(s) of the bot that addressed it, and with other members' and roles'
    mentions as neutral words: their Discord ids would otherwise be stored with the question and sent to the
    model, and those members never agreed to anything (nor could they find or delete it)."""
    text = strip_mention_ids(re.sub(rf"<@!?{bot_user_id}>", "", message.content)).strip()
    return text if has_visible_text(text) else ""  # only invisible characters: nothing to answer


async def start_thread(message: discord.Message, text: str) -> discord.Thread | discord.abc.MessageableChannel:
    """A thread from the question, named after it; the channel itself if Discord refuses."""
    # One line of plain words (a thread name shows no mention or timestamp markup), cut between graphemes.
    name = excerpt(_TIMESTAMP.sub("…", safe_text(text)), THREAD_NAME_CHARS)
    try:
        return await message.create_thread(name=name, auto_archive_duration=1440)
    except discord.HTTPException:
        return message.channel


def into_thread(message: discord.Message) -> Callable[[Question], Awaitable[Question]]:
    """Moves an accepted question's answer to a thread of its own (a refusal stays a reply in the channel)."""

    async def move(question: Question) -> Question:
        thread = await start_thread(message, question.text)
        if not isinstance(thread, discord.Thread):
            return question  # Discord refused the thread: answer in the channel
        return dataclasses.replace(
            question,
            channel_id=thread.id,
            parent_channel_id=thread.parent_id,
            send=channel_sender(thread, None),
            typing=thread.typing,
        )

    return move


class Answers(commands.Cog):
    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_raw_message_delete(self, event: discord.RawMessageDeleteEvent) -> None:
        if event.guild_id is not None:  # a question a thread was opened from: the thread is named after it
            await rename_thread_of_deleted_question(self.bot, self.bot.storage, event.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, event: discord.RawBulkMessageDeleteEvent) -> None:
        if event.guild_id is not None:
            for message_id in sorted(event.message_ids):
                await rename_thread_of_deleted_question(self.bot, self.bot.storage, message_id)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None:
            return
        in_own_thread = is_own_thread(message.channel, me)
        parent_answer = None
        comment = reply_comment_text(message.content, self.bot.settings.comment_prefix, me.id) is not None
        if comment and (in_own_thread or message.reference is not None):
            return  # a comment on an answer, or on the newest of the bot's thread (cogs/feedback.py), not a question
        if message.reference is not None and message.reference.message_id is not None:
            parent_answer = await self.bot.storage.answer_for_message(message.reference.message_id)
        if me not in message.mentions and parent_answer is None and not in_own_thread:
            return
        text = question_text(message, me.id)
        if not text:
            if me in message.mentions:  # an empty reply without the intent is just unreadable: stay quiet
                try:
                    await message.reply(EMPTY_MENTION_HINT, mention_author=False)
                except discord.HTTPException as error:  # e.g. no Send Messages there: nothing else to do
                    log.warning("could not send the empty-mention hint in %d: %s", message.channel.id, error)
            return
        channel = message.channel
        open_thread = None
        threads = False
        if isinstance(channel, discord.TextChannel):
            threads = (await self.bot.storage.guild_settings(message.guild.id)).answer_in_threads
            if threads:
                open_thread = into_thread(message)  # opened only once the question is accepted
        if isinstance(channel, discord.abc.GuildChannel | discord.Thread) and not can_answer_in(
            channel, threads=threads
        ):
            # Nothing the member would see: the model is not asked (nor the budget spent) for an answer no one reads.
            log.warning("not answering a question in %d: the bot may not post there", channel.id)
            return
        # Answered in this listener's task: a task of its own would start a loop turn later.
        outcome = await self.bot.answerer.run(
            Question(
                guild_id=message.guild.id,
                channel_id=channel.id,
                parent_channel_id=channel.parent_id if isinstance(channel, discord.Thread) else None,
                asker_id=message.author.id,
                text=text,
                send=channel_sender(channel, message),
                message=message,
                parent_answer_id=parent_answer.answer_id if parent_answer else None,
                # The bot's thread is one conversation: a new message continues from its latest answer.
                continues_thread=in_own_thread and parent_answer is None,
                open_thread=open_thread,
                typing=channel.typing,
                channel_exists=_exists_in(message.guild),
            )
        )
        if outcome is None:  # shutting down: not taken
            with contextlib.suppress(discord.HTTPException):
                await message.reply(RESTARTING.line, mention_author=False)

    @app_commands.command(name="ask", description="Ask a question about this community's cultural context")
    @app_commands.describe(
        question="your question; say who, where and what relationship if it matters", private="only you see the answer"
    )
    @app_commands.guild_only()
    async def ask(
        self, interaction: discord.Interaction, question: app_commands.Range[str, 1, 1500], private: bool = False
    ) -> None:
        if interaction.guild_id is None or interaction.channel_id is None:
            raise app_commands.NoPrivateMessage()
        if not self.bot.answerer.accepting:
            raise UserFacingError(RESTARTING.line)
        text = strip_mention_ids(question).strip()
        if not has_visible_text(text):  # only spaces or invisible characters: nothing to answer, no budget spent
            raise UserFacingError(
                "Your question is empty; write it in `question`, e.g. how do I greet my partner's grandparents?"
            )
        # Defer at once: Discord drops interactions not answered within 3 seconds.
        await interaction.response.defer(ephemeral=private, thinking=True)
        channel = interaction.channel
        started = self.bot.answerer.submit(
            Question(
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                parent_channel_id=channel.parent_id if isinstance(channel, discord.Thread) else None,
                asker_id=interaction.user.id,
                text=text,
                send=followup_sender(interaction, ephemeral=private),
                say_privately=None if private else private_line_sender(interaction),
                ephemeral=private,
                # A public /ask in the bot's thread continues its conversation, as a message there does; a private
                # one takes no one's context (nor is it anyone's).
                continues_thread=not private and is_own_thread(channel, self.bot.user),
                channel_exists=_exists_in(interaction.guild),
            )
        )
        if started is None:  # the bot began shutting down while the interaction was deferred
            await private_line_sender(interaction)(RESTARTING.line)


def _exists_in(guild: discord.Guild | None) -> Callable[[int], bool] | None:
    return None if guild is None else (lambda channel_id: guild.get_channel(channel_id) is not None)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Answers(bot))
