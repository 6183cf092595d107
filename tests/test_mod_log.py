"""`change_settings` makes one server's settings changes one at a time: two made at once each report, and audit,
the other's value as the old one (a true old → new chain), and a change computed from the settings sees the one
before it."""

from __future__ import annotations

import asyncio

from bot.errors import UserFacingError
from bot.mod_log import change_settings
from bot.storage import GuildSettings

GUILD = 7


async def audit(storage):
    return [entry.detail for entry in reversed(await storage.audit_entries(GUILD))]


async def test_two_changes_at_once_report_a_consistent_chain(storage):
    first, second = await asyncio.gather(
        change_settings(storage, GUILD, 1, "answers", {"cooldown_seconds": 5}),
        change_settings(storage, GUILD, 2, "answers", {"cooldown_seconds": 7}),
    )
    assert (first.before.cooldown_seconds, first.after.cooldown_seconds) == (10, 5)
    assert (second.before.cooldown_seconds, second.after.cooldown_seconds) == (5, 7)
    assert [first.summary, second.summary] == ["cooldown per member 10 s → 5 s", "cooldown per member 5 s → 7 s"]
    assert await audit(storage) == ["answers: cooldown_seconds 10 s → 5 s", "answers: cooldown_seconds 5 s → 7 s"]


async def test_a_change_computed_from_the_settings_sees_the_change_just_before(storage):
    def adding(channel):
        return lambda settings: {"answer_channels": [*settings.answer_channels, channel]}

    changes = await asyncio.gather(*(change_settings(storage, GUILD, 1, "answers", adding(c)) for c in (11, 12, 13)))
    assert (await storage.guild_settings(GUILD)).answer_channels == (11, 12, 13)
    assert [c.summary for c in changes] == [
        "answers in every channel I can read → <#11>",
        "answers in <#11> → <#11>, <#12>",
        "answers in <#11>, <#12> → <#11>, <#12>, <#13>",
    ]


async def test_a_refused_change_writes_nothing_and_lets_the_next_one_through(storage):
    def refuse(settings: GuildSettings) -> dict[str, object]:
        raise UserFacingError("no")

    refused, accepted = await asyncio.gather(
        change_settings(storage, GUILD, 1, "answers", refuse),
        change_settings(storage, GUILD, 2, "answers", {"cooldown_seconds": 3}),
        return_exceptions=True,
    )
    assert isinstance(refused, UserFacingError)
    assert not isinstance(accepted, BaseException) and accepted.summary == "cooldown per member 10 s → 3 s"
    assert await audit(storage) == ["answers: cooldown_seconds 10 s → 3 s"]


async def test_the_audit_row_keeps_texts_and_channel_lists_in_full_while_the_log_line_shortens_them(storage):
    """The audit log is the record of what members were told (the consent note) and what shaped answers before each
    change: the moderation log's 80-character excerpt would lose it."""
    first, second = "First note. " + "a" * 300 + " END1", "Second note. " + "b" * 300 + " END2"
    await change_settings(storage, GUILD, 1, "research settings", {"consent_note": first})
    change = await change_settings(storage, GUILD, 1, "research settings", {"consent_note": second})
    assert "END1" not in change.summary and "…" in change.summary  # the log line stays short
    assert (await audit(storage))[-1] == f"research settings: consent_note “{first}” → “{second}”"
    channels = list(range(101, 109))
    await change_settings(storage, GUILD, 1, "answers", {"answer_channels": channels})
    assert (await audit(storage))[-1].endswith(", ".join(f"<#{channel}>" for channel in channels))
