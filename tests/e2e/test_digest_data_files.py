"""Who can read the data files posted with each digest: the moderators are told which roles besides the research
role can read the digest channel, and may leave the data files out of the posts (`data_files:False`)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.digests.service import DATA_NOT_ATTACHED
from bot.storage import DigestStatus
from tests.e2e.test_digest_delivery_faults import NEXT_WEEK
from tests.e2e.test_digests import digest_posts, rated_answers, rows
from tests.e2e.test_scope_commands import reply_text, run

VIEW_CHANNEL = 1 << 10


async def test_the_roles_besides_the_research_role_that_can_read_the_channel_are_named(world, run_bot, moderator):
    members = int(world.standin.add_role(world.guild_id, "Members")["id"])
    research = int(world.standin.add_role(world.guild_id, "Researchers")["id"])
    team = int(world.standin.add_channel(world.guild_id, "research-team")["id"])
    world.standin.set_permission_overwrite(team, world.guild_id, deny=VIEW_CHANNEL)  # @everyone cannot view
    world.standin.set_permission_overwrite(team, world.standin.bot_user_id, allow=VIEW_CHANNEL, type=1)
    world.standin.set_permission_overwrite(team, research, allow=VIEW_CHANNEL)
    world.standin.set_permission_overwrite(team, members, allow=VIEW_CHANNEL)
    # Who may direct the data once the role is set: the moderator holds it too.
    held = world.standin.state.guild(world.guild_id).members[moderator].roles
    world.standin.set_member_roles(world.guild_id, moderator, [*held, research])
    async with run_bot(cooldown=0):
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": research}))
        text = await reply_text(world, await run(world, moderator, "digest channel", {"channel": team}))
        assert f"Members with <@&{members}> can read <#{team}>" in text
        assert f"<@&{research}>" not in text, "the research role may read the data"
        assert "`/digest channel data_files:False`" in text

        # Only the research team now: nothing to warn about.
        world.standin.set_permission_overwrite(team, members, deny=VIEW_CHANNEL)
        text = await reply_text(world, await run(world, moderator, "digest channel", {"channel": team}))
        assert "can read" not in text

        # A member let in by an overwrite of their own reads the data files as well as a role would.
        outsider = int(world.standin.add_member(world.guild_id, "not-a-researcher")["user"]["id"])
        world.standin.set_permission_overwrite(team, outsider, allow=VIEW_CHANNEL, type=1)
        text = await reply_text(world, await run(world, moderator, "digest channel", {"channel": team}))
        assert f"<@{outsider}> can read <#{team}>" in text
        assert f"<@{moderator}>" not in text, "the moderator holds the research role"
        setup = await world.standin.wait_for_followup((await run(world, moderator, "setup")).id)
        assert f"<@{outsider}> can read <#{team}>" in setup.embeds[0]["description"]


async def test_digests_can_be_posted_without_their_data_files(world, run_bot, moderator, digest_channel):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        await rated_answers(world, count=1)
        refused = await reply_text(world, await run(world, moderator, "digest channel", {}))
        assert refused == "Give a `channel`, `data_files`, or both: `/digest channel channel:#research`."
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        # Only the option: the channel stays.
        text = await reply_text(world, await run(world, moderator, "digest channel", {"data_files": False}))
        assert f"channel: <#{digest_channel}>" in text and "The data files are left out of each digest" in text
        assert "can read" not in text, "no data files: no warning about who reads them"
        assert rows(world, "SELECT digest_channel_id, digest_data_files FROM guild_settings") == [(digest_channel, 0)]

        now = datetime.now(UTC) + NEXT_WEEK
        record = await bot.jobs.digests.run_due(world.guild_id, now=now)
        assert record is not None and record.status is DigestStatus.SENT
        [post] = digest_posts(world, digest_channel)
        assert sorted(attachment.filename for attachment in post.attachments) == [
            "chart.png",
            "report.html",
            "report.md",
        ]
        assert post.content == DATA_NOT_ATTACHED
        assert post.embeds[0]["description"].endswith("Full report and chart attached.")

        # Attached again: the next digest carries them.
        text = await reply_text(world, await run(world, moderator, "digest channel", {"data_files": True}))
        assert "left out" not in text
        await rated_answers(world, count=1)
        record = await bot.jobs.digests.run_due(world.guild_id, now=now + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.SENT
        latest = digest_posts(world, digest_channel)[-1]
        assert "data.zip" in [attachment.filename for attachment in latest.attachments]
        assert latest.embeds[0]["description"].endswith("Full report, chart and pseudonymised data are attached.")
