"""/about: what culturebot is, what it collects, and which model answers."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.feedback.scales import scale_named
from bot.runtime import CultureBot

ABOUT_TEXT = (
    "I answer questions about this community's cultural context and ask members how well each answer fits. "
    "I am a research instrument: members' ratings help researchers study whether language models reflect a "
    "specific community rather than a stereotype of a nationality.\n\n"
    "**Asking**: mention me with your question.\n"
    "**Rating**: {rating}.\n"
    "**Your data**: no rating or comment is kept until you agree (questions are recorded with my answers); "
    "`/privacy` shows, exports or deletes it.\n"
    "**Model**: `{model}`. Ratings are stored under a pseudonym, never your Discord id.\n\n"
    "Moderators: `/setup` shows how this server is set up."
)


def rating_how(controls: str, emojis: str) -> str:
    """How members rate here, by the server's rating controls (reactions are counted whatever the controls)."""
    if controls == "reactions":
        return f"react to an answer with {emojis} (best fit first); a private answer has buttons instead"
    return f"use the buttons under an answer, or react to it with {emojis} (best fit first)"


class About(commands.Cog):
    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot

    @app_commands.command(name="about", description="What culturebot is, what it collects, and which model answers")
    async def about(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.storage.guild_settings(interaction.guild_id) if interaction.guild_id else None
        scale = scale_named(settings.rating_scale if settings else "fit3")
        rating = rating_how(settings.rating_controls if settings else "both", " ".join(scale.emojis))
        text = ABOUT_TEXT.format(rating=rating, model=self.bot.model.model)
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(About(bot))
