"""Answer members who mention the bot."""

from __future__ import annotations

import re

import discord
from discord.ext import commands

from bot.answers.pipeline import Question
from bot.feedback.comments import reply_comment_text
from bot.runtime import CultureBot


def question_text(message: discord.Message, bot_user_id: int) -> str:
    """The message without the mention(s) of the bot that addressed it."""
    return re.sub(rf"<@!?{bot_user_id}>", "", message.content).strip()


class Answers(commands.Cog):
    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None:
            return
        if me not in message.mentions:
            return
        prefix = self.bot.settings.comment_prefix
        if message.reference is not None and reply_comment_text(message.content, prefix, me.id) is not None:
            return  # a comment on an answer (cogs/feedback.py), not a question
        text = question_text(message, me.id)
        if not text:
            await message.reply(
                "Ask me a question after the mention, e.g. “@culturebot how do I greet my partner's grandparents?”",
                mention_author=False,
            )
            return
        self.bot.answerer.submit(
            Question(
                guild_id=message.guild.id,
                channel=message.channel,
                channel_id=message.channel.id,
                asker_id=message.author.id,
                text=text,
                message=message,
            )
        )


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Answers(bot))
