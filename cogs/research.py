"""/research settings: moderators set how feedback is collected and kept in their server."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.digests.text import excerpt
from bot.errors import UserFacingError
from bot.feedback.consent import consent_version, notice_changed, notice_overflow
from bot.locks import KeyedLocks
from bot.mod_log import change_settings, effective_changes, post_change
from bot.runtime import CultureBot
from bot.storage import DEFAULT_REASON_TAGS, sqlite_timestamp
from bot.wording import cleared, counted

MAX_TAGS = 25
SHOWN_NOTE = 300  # characters of the consent note shown in the reply (it may be 1,000 long)
SHOWN_TAGS = 700  # characters of the reason tags shown
ASKED_AGAIN = (
    "The consent notice members read has changed (now version {version}). Members who agreed to an earlier "
    "version are asked again, and nothing new they give is kept until they agree to this one; what they gave "
    "before stays. Members who declined are not asked again."
)


MAX_TAG_CHARS = 100  # a select option's label
TAGS_EXAMPLE = (
    "e.g. `too generic, stereotyped, good nuance`; `none` offers no reasons, `default` restores the reasons "
    "offered at first"
)


def parse_tags(text: str) -> list[str]:
    """The reason tags a moderator typed: comma-separated, `none` for none (no reasons are offered), `default` for
    the defaults. Raises UserFacingError saying what is wrong."""
    if text.strip().lower() == "none":
        return []
    if text.strip().lower() == "default":
        return list(DEFAULT_REASON_TAGS)
    tags = list(dict.fromkeys(tag.strip().lower() for tag in text.split(",") if tag.strip()))
    if not tags:
        raise UserFacingError(f"No reason tags given: separate them with commas, {TAGS_EXAMPLE}.")
    if len(tags) > MAX_TAGS:
        raise UserFacingError(f"{len(tags)} reason tags given; at most {MAX_TAGS} fit in the menu ({TAGS_EXAMPLE}).")
    if long := next((tag for tag in tags if len(tag) > MAX_TAG_CHARS), None):
        raise UserFacingError(
            f"The reason tag `{excerpt(long, 40)}` has {len(long)} characters; each can have at most "
            f"{MAX_TAG_CHARS}. Shorten it ({TAGS_EXAMPLE})."
        )
    return tags


class Research(commands.Cog):
    research = app_commands.Group(
        name="research",
        description="How members' feedback is collected and kept here",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot
        # One settings change per server at a time: a change is read, compared and written, and two moderators'
        # changes at once would otherwise both take the same next consent version for different texts.
        self._changing = KeyedLocks()

    @research.command(name="settings", description="Show or change the research settings")
    @app_commands.describe(
        retention_days="days before raw text (questions, answers, comments) is deleted; changing it asks members again",
        research_contact="who runs the research and how to reach them ('none' clears); changing it asks members again",
        consent_note="a note added to the consent notice ('none' clears); changing it asks members again",
        rating_scale="fit3: fits / partly / does not fit; likert5: 1 to 5",
        rating_controls="how members rate: reactions, buttons, or both",
        reason_tags="comma-separated reasons offered after a rating ('none' offers none, 'default' restores them)",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def settings(
        self,
        interaction: discord.Interaction,
        retention_days: app_commands.Range[int, 7, 3650] | None = None,
        research_contact: app_commands.Range[str, 3, 300] | None = None,
        consent_note: app_commands.Range[str, 1, 1000] | None = None,
        rating_scale: Literal["fit3", "likert5"] | None = None,
        rating_controls: Literal["reactions", "buttons", "both"] | None = None,
        reason_tags: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        async with self._changing.hold(interaction.guild_id):
            current = await self.bot.storage.guild_settings(interaction.guild_id)
            previous_retention = current.retention_days
            changes: dict[str, Any] = {}
            if retention_days is not None:
                changes["retention_days"] = retention_days
            # 'none' clears, as in /answers settings (shown to members as the contact otherwise).
            if research_contact is not None:
                changes["research_contact"] = cleared(research_contact)
            if consent_note is not None and cleared(consent_note) != current.consent_note:
                changes["consent_note"] = cleared(consent_note)
            if rating_scale is not None:
                changes["rating_scale"] = rating_scale
            if rating_controls is not None:
                changes["rating_controls"] = rating_controls
            if reason_tags is not None:
                changes["reason_tags"] = parse_tags(reason_tags)
            asked = bool(changes)
            changes = effective_changes(current, changes)  # a value set to what it is already changes nothing
            changed = dataclasses.replace(current, **changes)
            privacy_url = str(self.bot.settings.privacy_url) if self.bot.settings.privacy_url else None
            if (consent_note is not None or research_contact is not None) and (
                excess := notice_overflow(changed, privacy_url)
            ):
                raise UserFacingError(
                    f"Nothing was changed: with this consent note and research contact the consent notice would be "
                    f"{excess} characters too long for one Discord message, and members could not read it to "
                    "choose. Shorten the note (or the contact) and run the command again."
                )
            # A member's consent names the notice they agreed to, so any change to the text they read is a new
            # version (and members who agreed to the old one are asked again before anything new of theirs is kept).
            asks_again = notice_changed(current, changed)
            if asks_again:
                changes["consent_revision"] = current.consent_revision + 1
            purged = (0, 0)
            shortened_to = (
                retention_days if retention_days is not None and retention_days < previous_retention else None
            )
            if shortened_to is not None:
                # Said before it is done: the next daily purge (within a day) deletes these texts for good.
                purged = await self.bot.storage.texts_older_than(
                    interaction.guild_id, shortened_to, sqlite_timestamp(datetime.now(UTC))
                )
            note = ""
            if asks_again:
                version = consent_version(dataclasses.replace(current, **changes))
                note = f"; consent notice changed, now version {version}: members who agreed before are asked again"
            change = await change_settings(
                self.bot.storage, interaction.guild_id, interaction.user.id, "research settings", changes, note=note
            )
            current = change.after
        lines = [
            "**Research settings**" + (" (updated)" if change.changed else " (nothing changed)" if asked else ""),
            f"Retention of raw text: {current.retention_days} days",
            f"Research contact: {current.research_contact or 'not set'}",
            f"Consent notice revision: {current.consent_revision}"
            + (f" · note: {excerpt(current.consent_note, SHOWN_NOTE)}" if current.consent_note else ""),
            f"Rating scale: {current.rating_scale} · controls: {current.rating_controls}",
            # Up to 25 tags of 100 characters: shown shortened, so that the reply fits in one message.
            "Reason tags: " + (excerpt(", ".join(current.reason_tags), SHOWN_TAGS) or "none offered"),
        ]
        if asks_again:
            lines.append(ASKED_AGAIN.format(version=consent_version(current)))
        if shortened_to is not None and any(purged):
            answers, comments = purged
            lines.append(
                f"Shortening retention to {shortened_to} days deletes the text of {counted(answers, 'answer')} and "
                f"{counted(comments, 'comment')} older than that at the next daily purge, within a day; the ratings "
                f"stay. To keep them, set `retention_days` back to {previous_retention} before then."
            )
        await interaction.response.send_message("\n".join(lines), ephemeral=True)
        await post_change(self.bot, interaction.user.id, change)


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Research(bot))
