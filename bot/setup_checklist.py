"""/setup: a server's set-up as a checklist for moderators, in the order to go through it, each step with its state
and the command that does or changes it.

`setup_checklist` is plain (settings, scope, what Discord says about the channels and role, the time) → text;
`server_facts` reads the Discord side from the server's cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import discord

from bot.answer_channels import deleted_label

# Where the bot answers, the cooldown and the daily token budget are described as `/answers settings` shows them
# (the first three lines of its reply). That description lives in the cog; it belongs in bot/ beside the settings.
from bot.answers.settings_text import describe as describe_answer_settings
from bot.channel_access import DIGEST, LOG, answering_needs, unusable_reason
from bot.digests.channel import data_readers, mention_of, readable_by_everyone, readers_named
from bot.digests.schedule import cron_weekdays, make_trigger, next_run
from bot.digests.text import excerpt
from bot.errors import UserFacingError
from bot.feedback.scales import scale_named
from bot.storage import GuildSettings, ScopeVersion
from bot.wording import counted

TITLE = "How I am set up in this server"
DONE = "✅"
ATTENTION = "⚠️"
SHOWN_CONTACT = 200  # characters of the research contact shown (it may be 300 long)
SHOWN_SCOPE_TITLE = 150
SHOWN_PROBLEMS = 2  # answer channels whose missing permissions are spelled out; others are counted
SHOWN_DELETED = 3  # deleted answer channels named; others are counted
CONTROLS = {"reactions": "reactions", "buttons": "buttons", "both": "reactions and buttons"}
WEEKDAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What the checklist needs to know from Discord beside the stored settings."""

    missing_channels: frozenset[int] = frozenset()  # channels in the settings that no longer exist
    channel_problems: Mapping[int, str] = field(default_factory=dict)  # why the bot cannot do its work there
    digest_channel_public: bool = False  # every member can read the digest channel
    # Roles besides the research role whose members can read it (mentions; @everyone is `digest_channel_public`)
    digest_channel_readers: tuple[str, ...] = ()
    research_role_missing: bool = False  # the research role was deleted


def setup_checklist(
    settings: GuildSettings,
    scope: ScopeVersion | None,
    now: datetime,
    facts: ServerFacts | None = None,
) -> str:
    """The server's set-up as a checklist, for an embed titled `TITLE` (within its 4,096 characters): one step per
    group of lines, each marked done or needing attention, with the command that does or changes it; then what
    members see first."""
    facts = facts or ServerFacts()
    steps = [
        _scope_step(settings, scope),
        _answers_step(settings, facts),
        _log_step(settings, facts),
        _research_step(settings),
        _digest_step(settings, facts, now),
    ]
    lines = [f"{DONE} done · {ATTENTION} needs attention, in the order to go through them."]
    for number, (done, title, details) in enumerate(steps, start=1):
        lines.append("")
        lines.append(f"{DONE if done else ATTENTION} **{number}. {title}**")
        lines.extend(details)
    lines.append("")
    lines.append(
        "**What members see first**: when they first rate or comment, the consent notice (what is kept, for how "
        "long, who runs the research); nothing of theirs is kept until they choose. `/privacy` shows, exports or "
        "deletes their data; `/about` and `/culture` explain me and the scope."
    )
    return "\n".join(lines)


Step = tuple[bool, str, list[str]]


def _scope_step(settings: GuildSettings, scope: ScopeVersion | None) -> Step:
    unscoped = (
        "Unscoped answers: allowed, with a note (`/scope settings allow_unscoped:False` turns them off)."
        if settings.allow_unscoped
        else "Unscoped answers: off (`/scope settings allow_unscoped:True` answers with a note while none is declared)."
    )
    if scope is None:
        without = "I answer with a note that there is none" if settings.allow_unscoped else "I answer no one"
        return (
            False,
            "Cultural scope",
            [
                f"Not declared yet, so {without}. `/scope templates` lists starting points; declare one with "
                "`/scope use <template>` or `/scope upload`.",
                unscoped,
            ],
        )
    return (
        True,
        "Cultural scope",
        [
            f"**{excerpt(scope.title, SHOWN_SCOPE_TITLE)}** (version {scope.number}). Refine it with your community: "
            "`/scope edit`, `/scope upload`; `/scope history` lists the versions.",
            unscoped,
        ],
    )


def _answers_step(settings: GuildSettings, facts: ServerFacts) -> Step:
    details = describe_answer_settings(settings).splitlines()[:3]
    done = settings.daily_token_budget > 0  # at 0 the budget line says answers are switched off
    listed = settings.answer_channels
    existing = [channel for channel in listed if channel not in facts.missing_channels]
    deleted = [channel for channel in listed if channel in facts.missing_channels]
    if not listed:
        done = False
        details[0] += f" ({ATTENTION} choose channels with `/answers channel-add`: then I answer only there)"
    elif not existing:
        # Kept in the list on purpose (bot/deleted_channels.py): without them I would answer everywhere.
        done = False
        details.append(
            f"{ATTENTION} None of these channels exists any more, so I answer nowhere. Choose where I answer with "
            "`/answers channel-add`, or take them off the list with `/answers channel-remove` (offered as “deleted "
            "channel <id>”) to answer in every channel I can read."
        )
    elif deleted:
        done = False
        shown = ", ".join(deleted_label(channel) for channel in deleted[:SHOWN_DELETED])
        more = f" and {len(deleted) - SHOWN_DELETED} more" if len(deleted) > SHOWN_DELETED else ""
        exists, them = ("exists", "it") if len(deleted) == 1 else ("exist", "them")
        details.append(
            f"{ATTENTION} {counted(len(deleted), 'channel')} in the list no longer {exists} ({shown}{more}): take "
            f"{them} off with `/answers channel-remove`."
        )
    problems = [f"{ATTENTION} {facts.channel_problems[c]}" for c in existing if c in facts.channel_problems]
    if problems:
        done = False
        details.extend(problems[:SHOWN_PROBLEMS])
        if len(problems) > SHOWN_PROBLEMS:
            details.append(f"{ATTENTION} And {len(problems) - SHOWN_PROBLEMS} more of these channels, for the same.")
    details.append("Change: `/answers settings` (cooldown, budget, language, threads), `/answers channel-remove`.")
    return done, "Where I answer", details


def _log_step(settings: GuildSettings, facts: ServerFacts) -> Step:
    channel = settings.log_channel_id
    if channel is None:
        # Never chosen, switched off (`log_off`) or deleted: the settings cannot tell which, and each needs a look.
        return (
            False,
            "Moderation log",
            [
                "No log channel: scope changes and other moderator actions are posted nowhere. Choose one with "
                "`/scope settings log_channel:#channel`."
            ],
        )
    problems = _channel_notes([channel], facts, "/scope settings log_channel")
    if channel in facts.missing_channels:
        problems = [
            f"{ATTENTION} <#{channel}> no longer exists: choose another with `/scope settings log_channel`, or stop "
            "posting the log with `/scope settings log_off:True`."
        ]
    return not problems, "Moderation log", [f"<#{channel}> (`/scope settings log_channel` changes it).", *problems]


def _research_step(settings: GuildSettings) -> Step:
    scale = scale_named(settings.rating_scale)
    kept = (
        f"Raw text kept for {counted(settings.retention_days, 'day')} · rating scale {scale.name} "
        f"({' '.join(scale.emojis)}) with {CONTROLS.get(settings.rating_controls, settings.rating_controls)}. "
        "Change with `/research settings`."
    )
    if settings.research_contact is None:
        return (
            False,
            "Research",
            [
                "Research contact: not set, so the consent notice names this server's moderators. Say who runs the "
                "research and how to reach them with `/research settings research_contact`.",
                kept,
            ],
        )
    contact = excerpt(settings.research_contact, SHOWN_CONTACT)
    return True, "Research", [f"Research contact (shown in the consent notice): {contact}", kept]


def _digest_step(settings: GuildSettings, facts: ServerFacts, now: datetime) -> Step:
    schedule = f"{schedule_in_words(settings.digest_cron)}, {settings.digest_timezone} time"
    details: list[str] = []
    done = True
    if not settings.digest_enabled:
        done = False
        details.append(f"Off (schedule kept: {schedule}). `/digest schedule` switches them on.")
    else:
        try:
            trigger = make_trigger(settings.digest_cron, settings.digest_timezone)
        except UserFacingError as error:
            done = False
            details.append(  # why, too: the schedule was taken when it was set
                f"The saved schedule `{settings.digest_cron}` is no longer accepted, so no scheduled digest is made: "
                f"{error} Set one with `/digest schedule`."
            )
        else:
            following = next_run(trigger, now) if settings.digest_channel_id is not None else None
            details.append(
                f"On: {schedule}"
                + (f"; next: <t:{int(following.timestamp())}:F>." if following else ".")
                + " Change with `/digest schedule`, or `/digest off`."
            )
    channel = settings.digest_channel_id
    if channel is None:
        done = False
        details.append(
            "Digest channel: none, so no digest is made. Choose one only the research team can read with "
            "`/digest channel`."
        )
    else:
        problems = _channel_notes([channel], facts, "/digest channel")
        details.append(f"Digest channel: <#{channel}>.")
        readers = readers_named(facts.digest_channel_public, facts.digest_channel_readers)
        if readers and settings.digest_data_files and channel not in facts.missing_channels:
            problems.append(
                f"{ATTENTION} {readers} can read <#{channel}>: each digest there carries the data files, "
                "which hold every comment, also those their authors did not allow to be quoted. Choose a channel "
                "only the research team can read, or leave the data files out (`/digest channel data_files:False`)."
            )
        if problems:
            done = False
            details.extend(problems)
    role = settings.research_role_id
    if role is None:
        done = False
        details.append(
            "Research role: none, so nobody can export the research data (`/research-export`). Choose the "
            "research team's role with `/digest research-role`."
        )
    elif facts.research_role_missing:
        done = False
        details.append(
            f"Research role: {ATTENTION} the role set (<@&{role}>) no longer exists, so nobody can export the research "
            "data. An administrator chooses another with `/digest research-role`."
        )
    else:
        details.append(f"Research role (may export the data with `/research-export`): <@&{role}>.")
    return done, "Research digests", details


def _channel_notes(channel_ids: Iterable[int], facts: ServerFacts, command: str) -> list[str]:
    """A line for each of these channels that is gone or refuses the bot."""
    notes = []
    for channel in channel_ids:
        if channel in facts.missing_channels:
            notes.append(f"{ATTENTION} <#{channel}> no longer exists: choose another with `{command}`.")
        elif (problem := facts.channel_problems.get(channel)) is not None:
            notes.append(f"{ATTENTION} {problem}")
    return notes


def schedule_in_words(cron: str) -> str:
    """A digest schedule as moderators say it ("weekly, on Mondays at 09:00"), or its cron line when it is not one
    of the simple shapes."""
    as_line = f"by the cron line `{cron}`"
    fields = cron.split()
    if len(fields) != 5:
        return as_line
    minute, hour, day, month, weekday = fields
    try:
        days = cron_weekdays(weekday)
    except ValueError:
        return as_line
    if not minute.isdecimal() or month != "*":
        return as_line
    if hour == "*" and day == "*" and days == "*":
        return f"hourly, at {int(minute):02d} minutes past the hour"
    if not hour.isdecimal():
        return as_line
    at = f"{int(hour):02d}:{int(minute):02d}"
    if day == "*" and days == "*":
        return f"daily at {at}"
    if day == "*":
        names = [WEEKDAY_NAMES[name] + "s" for name in days.split(",")]
        if len(names) == 1:
            return f"weekly, on {names[0]} at {at}"
        return f"on {', '.join(names[:-1])} and {names[-1]} at {at}"
    if day.isdecimal() and days == "*":
        return f"monthly, on day {int(day)} at {at}"
    return as_line


def server_facts(guild: discord.Guild, settings: GuildSettings) -> ServerFacts:
    """What Discord says about the server's configured channels and research role: which are gone, where the bot
    lacks permissions, whether everyone can read the digest channel."""
    missing: set[int] = set()
    problems: dict[int, str] = {}

    def answering(channel_id: int) -> dict[str, str]:
        forum = isinstance(guild.get_channel(channel_id), discord.ForumChannel)
        return answering_needs(
            threads=settings.answer_in_threads, rating_controls=settings.rating_controls, forum=forum
        )

    uses = [(channel, answering(channel), "answer", "/answers channel-add") for channel in settings.answer_channels]
    if settings.log_channel_id is not None:
        uses.append((settings.log_channel_id, LOG, "post the moderation log", "/scope settings"))
    if settings.digest_channel_id is not None:
        uses.append((settings.digest_channel_id, DIGEST, "post digests", "/digest channel"))
    for channel_id, needed, use, command in uses:
        channel = guild.get_channel(channel_id)
        if channel is None:
            missing.add(channel_id)
        elif (reason := unusable_reason(channel, needed, use, command)) is not None:
            problems[channel_id] = reason
    digest = guild.get_channel(settings.digest_channel_id) if settings.digest_channel_id is not None else None
    return ServerFacts(
        missing_channels=frozenset(missing),
        channel_problems=problems,
        digest_channel_public=isinstance(digest, discord.TextChannel) and readable_by_everyone(digest),
        digest_channel_readers=tuple(
            mention_of(reader)
            for reader in (
                data_readers(digest, settings.research_role_id) if isinstance(digest, discord.TextChannel) else ()
            )
            if not (isinstance(reader, discord.Role) and reader.is_default())
        ),
        research_role_missing=settings.research_role_id is not None
        and guild.get_role(settings.research_role_id) is None,
    )
