"""/digest: moderators schedule the research digest; /research-export gives researchers the data."""

from __future__ import annotations

import asyncio
import functools
import re
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.channel_access import DIGEST, unusable_reason
from bot.digests.channel import data_readers_warning
from bot.digests.offline import day_period
from bot.digests.schedule import Period, check_day_range, not_a_place, parse_schedule, schedule_problem
from bot.digests.service import SETTINGS_AUDIT_PREFIX, WORKER_STOPPED_NOTE, bundle, export_timezone
from bot.digests.summary import digest_embed
from bot.digests.workers import WorkerStopped
from bot.errors import UserFacingError
from bot.jobs import Jobs
from bot.mod_log import SettingsChange, change_settings, post_change, post_to_log
from bot.research_access import (
    holds_research_role,
    may_direct_research_data,
    research_data_refusal,
    research_role_deleted,
)
from bot.runtime import CultureBot
from bot.storage import GuildSettings
from bot.wording import counted

MAX_EXPORT_YEARS = 10
# As `culturebot digest` says: a range at the ends of the calendar, or the equally long one before it that a
# digest compares with, does not fit in a datetime.
OUT_OF_RANGE = (
    "The range, and the equally long period before it that a digest compares with, must lie between 0002 and "
    "9998: start later, or ask for a shorter range."
)
FIRST_YEAR, LAST_YEAR = 2, 9998
# The research role set was deleted in Discord: nobody holds it, and changing it takes it or Administrator.
DELETED_RESEARCH_ROLE = (
    "The research role set for this server was deleted, so nobody can export research data until another is chosen. "
    "An administrator chooses one with `/digest research-role`."
)


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_day(text: str, name: str) -> date:
    try:
        # As written: date.fromisoformat also takes 20261102 and the week date 2026-W45-1, which few mean.
        if not _DAY.fullmatch(text.strip()):
            raise ValueError(text)
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise UserFacingError(
            f"`{text}` is not a date for `{name}`; write it as YYYY-MM-DD, e.g. 2026-11-02."
        ) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise UserFacingError(f"`{text}` is out of range for `{name}`; give dates between 0002 and 9998.")
    return day


class Digest(commands.Cog):
    digest = app_commands.Group(
        name="digest",
        description="The weekly research digest of members' feedback",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: CultureBot) -> None:
        self.bot = bot

    @property
    def jobs(self) -> Jobs:
        if self.bot.jobs is None:
            raise UserFacingError("The scheduler is not running yet; try again in a moment.")
        return self.bot.jobs

    async def _changed(
        self, interaction: discord.Interaction, changes: dict[str, object]
    ) -> tuple[str, SettingsChange]:
        """Make the changes that change something (audited as "digest: …") and reschedule; the reply, and the change
        for the moderation log (posted by the command once it has replied)."""
        assert interaction.guild_id is not None
        change = await change_settings(
            self.bot.storage,
            interaction.guild_id,
            interaction.user.id,
            SETTINGS_AUDIT_PREFIX.removesuffix(": "),
            changes,
        )
        settings = change.after
        self.jobs.schedule_digest(settings)
        when = self.jobs.next_digest_time(interaction.guild_id)
        channel = (
            f"<#{settings.digest_channel_id}>" if settings.digest_channel_id else "no channel yet (`/digest channel`)"
        )
        schedule = f"`{settings.digest_cron}` in {settings.digest_timezone}"
        said = "" if change.changed else "Nothing changed. "
        if not settings.digest_enabled:
            return f"{said}Digests are off. Schedule kept: {schedule}; channel: {channel}.", change
        if not change.before.digest_enabled:
            said += "Digests are on again. "
        following = f"; next: <t:{int(when.timestamp())}:F>" if when else ""
        reply = f"{said}Digest schedule: {schedule}; channel: {channel}{following}."
        if (problem := schedule_problem(settings)) is not None:  # saved by an earlier version that accepted it
            reply += (
                f" No scheduled digest is made: this schedule is no longer accepted. {problem} Set one with "
                "`/digest schedule`."
            )
        return reply, change

    @digest.command(name="schedule", description="When the digest is sent: weekly, daily, monthly or a cron line")
    @app_commands.describe(
        when="weekly (Monday 09:00), daily, monthly, or a cron line such as 0 9 * * mon",
        timezone="IANA time zone, e.g. Asia/Jakarta (default: the one set before; UTC at first)",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def schedule(self, interaction: discord.Interaction, when: str, timezone: str | None = None) -> None:
        assert interaction.guild_id is not None
        kept_zone = timezone is None
        if timezone is None:  # changing the time keeps the server's time zone, as saved (see below)
            timezone = (await self.bot.storage.guild_settings(interaction.guild_id)).digest_timezone
        # Validates and normalises both, with a clear message. A zone saved by an earlier version that took it
        # (EST, Etc/GMT-7) is kept, as its schedule keeps running: the moderator changed only the time.
        schedule = parse_schedule(when, timezone, saved=kept_zone)
        await interaction.response.defer(ephemeral=True, thinking=True)
        text, change = await self._changed(
            interaction, {"digest_cron": schedule.cron, "digest_timezone": schedule.timezone, "digest_enabled": 1}
        )
        if kept_zone and (problem := not_a_place(schedule.timezone)) is not None:
            text += (
                " The time zone saved before is kept; typed today it would be refused (change it with `timezone:`). "
                + problem
            )
        # Digests kept while they were off (or undelivered) go out now that they are on.
        resent = await self.jobs.digests.resend_kept(interaction.guild_id)
        if resent:
            text += f" Sent the {counted(resent, 'digest')} kept meanwhile."
        await interaction.followup.send(text, ephemeral=True)
        await post_change(self.bot, interaction.user.id, change)

    @digest.command(name="channel", description="Where the digest is posted, and whether with its data files")
    @app_commands.describe(
        channel="the channel digests are posted in (default: the one set before)",
        data_files="attach the data files (every comment, quotable or not) to each digest (default: yes)",
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        data_files: bool | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await self._check_may_direct_data(interaction, "the digest channel")
        if channel is None and data_files is None:
            raise UserFacingError("Give a `channel`, `data_files`, or both: `/digest channel channel:#research`.")
        if channel is not None and (reason := unusable_reason(channel, DIGEST, "post digests", "/digest channel")):
            raise UserFacingError(reason)  # found now rather than on digest day; the setting is unchanged
        await interaction.response.defer(ephemeral=True, thinking=True)
        changes: dict[str, object] = {} if channel is None else {"digest_channel_id": channel.id}
        if data_files is not None:
            changes["digest_data_files"] = int(data_files)
        text, change = await self._changed(interaction, changes)
        settings = change.after
        if not settings.digest_data_files:
            text += " The data files are left out of each digest; the research role gets them with `/research-export`."
        else:
            chosen = self.bot.get_channel(settings.digest_channel_id) if settings.digest_channel_id else None
            if isinstance(chosen, discord.TextChannel):
                text += data_readers_warning(chosen, settings.research_role_id)
        resent = await self.jobs.digests.resend_kept(interaction.guild_id)
        if resent:
            text += f" Sent the {counted(resent, 'digest')} kept while no channel worked."
        await interaction.followup.send(text, ephemeral=True)
        await post_change(self.bot, interaction.user.id, change)

    @digest.command(name="off", description="Stop sending digests (settings are kept)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def off(self, interaction: discord.Interaction) -> None:
        text, change = await self._changed(interaction, {"digest_enabled": 0})
        await interaction.response.send_message(text, ephemeral=True)
        await post_change(self.bot, interaction.user.id, change)

    @digest.command(name="now", description="Send a digest now, covering everything since the last one")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def now(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            record = await self.jobs.digests.run_now(interaction.guild_id)
        except WorkerStopped:
            await interaction.followup.send(
                f"The digest could not be made: {WORKER_STOPPED_NOTE} It is kept, and made again at the bot's next "
                "start.",
                ephemeral=True,
            )
            return
        if record is None:
            await interaction.followup.send("Nothing to send: the last digest is up to date.", ephemeral=True)
        elif record.status.value == "sent":
            await interaction.followup.send(f"Digest sent to <#{record.channel_id}>.", ephemeral=True)
        else:
            await interaction.followup.send(f"The digest was kept but not posted: {record.error}.", ephemeral=True)

    @digest.command(name="preview", description="See the digest so far, privately (nothing is recorded)")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def preview(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        period = await self.jobs.digests.period_so_far(interaction.guild_id)
        if period.end <= period.start:
            await interaction.followup.send("Nothing to preview: the last digest is up to date.", ephemeral=True)
            return
        # The rows (every comment, quotable or not, under its member's pseudonym) go only to the research role, as
        # with /research-export: Manage Server alone shows the reports.
        settings = await self.bot.storage.guild_settings(interaction.guild_id)
        await self._send_files(
            interaction,
            period,
            "Digest preview (not sent, not recorded)",
            data=has_research_role(interaction, settings),
        )

    @digest.command(name="research-role", description="The role whose members may export research data")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def research_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        await self._check_may_direct_data(interaction, "the research role")
        if role.is_default():
            raise UserFacingError(
                "Choose a role only researchers have: with @everyone, every member could export the research data, "
                "with comments their authors did not agree to have quoted."
            )
        if role.managed:
            raise UserFacingError(
                f"{role.mention} belongs to a bot or integration: Discord gives it to that integration only, so no "
                "researcher could hold it. Choose a role you give to the research team (or create one in Server "
                "Settings → Roles)."
            )
        _, change = await self._changed(interaction, {"research_role_id": role.id})
        await interaction.response.send_message(
            ("" if change.changed else "Nothing changed. ")
            + f"Members with {role.mention} can now use `/research-export`.",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await post_change(self.bot, interaction.user.id, change)

    @app_commands.command(name="research-export", description="Researchers: the feedback data for a date range")
    @app_commands.describe(
        start="first day, YYYY-MM-DD",
        end="last day, YYYY-MM-DD (inclusive)",
        timezone="time zone of the dates, e.g. Asia/Jakarta (default: the server's digest time zone, else UTC)",
    )
    @app_commands.guild_only()
    async def research_export(
        self, interaction: discord.Interaction, start: str, end: str, timezone: str | None = None
    ) -> None:
        assert interaction.guild_id is not None
        settings = await self.bot.storage.guild_settings(interaction.guild_id)
        if settings.research_role_id is None:
            raise UserFacingError("No research role is set; moderators choose one with `/digest research-role`.")
        if not has_research_role(interaction, settings):
            if interaction.guild is not None and interaction.guild.get_role(settings.research_role_id) is None:
                raise UserFacingError(DELETED_RESEARCH_ROLE)
            raise UserFacingError(
                f"Only members with the <@&{settings.research_role_id}> role can export research data."
            )
        first, last = parse_day(start, "start"), parse_day(end, "end")
        check_day_range(first, last, start="`start`", end="`end`", max_years=MAX_EXPORT_YEARS)
        zone = export_timezone(timezone, settings)
        try:
            period = day_period(first, last, zone, saved=True)  # checked: typed, or as saved with the schedule
            period.start - (period.end - period.start)  # the period before, which the digest compares with
        except OverflowError:
            raise UserFacingError(OUT_OF_RANGE) from None
        await interaction.response.defer(ephemeral=True, thinking=True)
        # Every rating and comment the range's answers have now, including those given after the range.
        await self._send_files(
            interaction,
            period,
            f"Research data for {first} – {last} ({zone})",
            feedback_before=datetime.now(UTC),
            timezone=zone,
        )

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        await research_role_deleted(self.bot, self.bot.storage, role)

    async def _check_may_direct_data(self, interaction: discord.Interaction, what: str) -> None:
        assert interaction.guild_id is not None
        settings = await self.bot.storage.guild_settings(interaction.guild_id)
        permissions = getattr(interaction.user, "guild_permissions", None)
        administrator = permissions is not None and permissions.administrator
        if not may_direct_research_data(settings, _role_ids(interaction), administrator=administrator):
            guild = interaction.guild
            role_exists = guild is None or guild.get_role(settings.research_role_id or 0) is not None
            raise UserFacingError(research_data_refusal(settings, what, role_exists=role_exists))

    async def _send_files(
        self,
        interaction: discord.Interaction,
        period: Period,
        title: str,
        *,
        feedback_before: datetime | None = None,
        data: bool = True,
        timezone: str | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        digests = self.jobs.digests
        with tempfile.TemporaryDirectory(prefix="culturebot-digest-") as folder:
            limit = interaction.guild.filesize_limit if interaction.guild else None
            while True:
                # Made again if a member's data was deleted meanwhile (also while zipping): it must not go out.
                files, deletions = await digests.make_current_files(
                    interaction.guild_id, period, Path(folder), feedback_before=feedback_before, timezone=timezone
                )
                paths = await asyncio.to_thread(functools.partial(bundle, data=data), files, Path(folder), limit)
                if not await digests.deleted_since(interaction.guild_id, deletions):
                    break
            attachments = [discord.File(path, filename=path.name) for path in paths]
            embed = digest_embed(files.digest, None, title, data=any(p.name == "data.zip" for p in paths))
            embed.set_image(url=f"attachment://{files.chart.name}")
            if not data:
                note: str | None = PREVIEW_WITHOUT_DATA
            elif any(p.name == "data.zip" for p in paths):
                note = None
            else:
                note = (
                    "The data files are larger than this server's upload limit: narrow the date range, or run "
                    "`culturebot digest` where the bot runs."
                )
            await interaction.followup.send(
                note or discord.utils.MISSING, embed=embed, files=attachments, ephemeral=True
            )
        if data and note is None:
            # Who received the research data, and which: in the audit log (and so in the next digest's moderator
            # actions) and in the moderation log channel.
            what = f"received the research data files: {title}"
            await self.bot.storage.add_audit(interaction.guild_id, interaction.user.id, "research.export", what)
            settings = await self.bot.storage.guild_settings(interaction.guild_id)
            await post_to_log(self.bot, settings.log_channel_id, interaction.user.id, what)


PREVIEW_WITHOUT_DATA = (
    "The reports only: the data files (every rating and comment, under pseudonyms) come with the digest and with "
    "`/research-export`, for the research role."
)


def has_research_role(interaction: discord.Interaction, settings: GuildSettings) -> bool:
    """Whether the member has the server's research role (none is, while no role is set)."""
    return holds_research_role(settings, _role_ids(interaction))


def _role_ids(interaction: discord.Interaction) -> list[int]:
    return [role.id for role in getattr(interaction.user, "roles", [])]


async def setup(bot: CultureBot) -> None:
    await bot.add_cog(Digest(bot))
