"""Kept digests go out without a moderator's command once they can: when Discord refused the post and the bot may
post again, at the next scheduled digest, and a `/digest now` that Discord failed while digests are off."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

from bot.storage import DigestStatus
from tests.e2e.test_digest_delivery_faults import ATTACH_FILES, NEXT_WEEK, failing_make, notes
from tests.e2e.test_digests import digest_posts, posted_texts, rated_answers, rows, with_log_and_digest_channels
from tests.e2e.test_scope_commands import reply_text, run
from tests.helpers import eventually

SEND_MESSAGES = 1 << 11


async def test_a_refused_digest_is_sent_as_soon_as_the_channel_lets_the_bot_post(
    world, run_bot, moderator, digest_channel
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=ATTACH_FILES, type=1)
        record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.UNDELIVERED
        # The note says what the bot lacks and that nothing more is needed than giving it.
        [note] = await eventually(lambda: notes(world, log_channel, "could not be posted"), what="the note")
        assert f"once the bot can post in <#{digest_channel}> (it lacks Attach Files there: it is sent as soon" in note
        assert "no command needed" in note and "`/digest channel` names another channel" in note

        # A moderator fixes the channel's permissions in Discord: no command is needed.
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=0, type=1)
        [post] = await eventually(lambda: digest_posts(world, digest_channel), what="the kept digest's post")
        assert any(attachment.filename == "data.zip" for attachment in post.attachments)
        await eventually(
            lambda: rows(world, "SELECT status FROM digests") == [("sent",)], what="the digest recorded as sent"
        )


async def test_a_refused_digest_is_sent_when_a_role_gives_the_bot_its_permissions_back(
    world, run_bot, moderator, digest_channel
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        await with_log_and_digest_channels(world, moderator, digest_channel)
        # The bot's own role (its permissions come from it and from @everyone, which grants no Send Messages here).
        roles = world.standin.state.guild(world.guild_id).roles.values()
        [own] = [role for role in roles if role.bot_id == world.standin.bot_user_id]
        everyone = world.standin.state.guild(world.guild_id).roles[world.guild_id]
        world.standin.set_role_permissions(world.guild_id, world.guild_id, everyone.permissions & ~SEND_MESSAGES)
        granted = own.permissions
        world.standin.set_role_permissions(world.guild_id, own.id, granted & ~SEND_MESSAGES)
        await eventually(
            lambda: not bot.get_channel(digest_channel).permissions_for(bot.get_guild(world.guild_id).me).send_messages,
            what="the bot to see it lost Send Messages",
        )
        record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.UNDELIVERED

        world.standin.set_role_permissions(world.guild_id, own.id, granted)
        await eventually(lambda: digest_posts(world, digest_channel), what="the kept digest's post")


async def test_the_next_scheduled_digest_sends_the_kept_ones_first(world, run_bot, moderator, digest_channel):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        # Refused once for a reason the bot's permissions do not show (no change of them will come).
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=403)
        now = datetime.now(UTC) + NEXT_WEEK
        first = await bot.jobs.digests.run_due(world.guild_id, now=now)
        assert first is not None and first.status is DigestStatus.UNDELIVERED
        assert first.error is not None and first.error.startswith("Discord refused the post (403")
        [note] = await eventually(lambda: notes(world, log_channel, "could not be posted"), what="the note")
        assert "once the next scheduled digest is due (it goes first)" in note
        await rated_answers(world, count=1)

        second = await bot.jobs.digests.run_scheduled(world.guild_id, now=now + NEXT_WEEK)
        assert second is not None and second.status is DigestStatus.SENT
        posts = digest_posts(world, digest_channel)
        assert [post.embeds[0]["footer"]["text"] for post in posts] == [
            f"culturebot digest #{first.digest_id}",
            f"culturebot digest #{second.digest_id}",
        ], "the kept digest first, then the one due"
        assert rows(world, "SELECT status FROM digests ORDER BY period_end") == [("sent",), ("sent",)]


async def test_a_digest_now_that_discord_failed_while_digests_are_off_is_tried_again(
    world, run_bot, moderator, digest_channel
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        await with_log_and_digest_channels(world, moderator, digest_channel)
        await reply_text(world, await run(world, moderator, "digest off"))
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=503)
        reply = await reply_text(world, await run(world, moderator, "digest now"))
        assert "kept but not posted" in reply and "503" in reply
        assert rows(world, "SELECT status, on_demand FROM digests") == [("pending", 1)]

        # The retry posts it though scheduled digests are off: a moderator asked for it.
        assert await bot.jobs.retry_pending_digests() == 1
        assert len(digest_posts(world, digest_channel)) == 1
        assert rows(world, "SELECT status FROM digests") == [("sent",)]


async def test_a_scheduled_digest_kept_while_digests_are_off_waits_for_them(world, run_bot, moderator, digest_channel):
    """What `/digest now` may do, a scheduled digest may not: kept, it goes out only once digests are on."""
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        await with_log_and_digest_channels(world, moderator, digest_channel)
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=503)
        record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING and not record.on_demand
        await reply_text(world, await run(world, moderator, "digest off"))
        assert await bot.jobs.retry_pending_digests() == 0
        assert digest_posts(world, digest_channel) == []
        assert rows(world, "SELECT status, error FROM digests") == [("pending", record.error)]
        # Switched on again: sent.
        reply = await reply_text(world, await run(world, moderator, "digest schedule", {"when": "weekly"}))
        assert "Sent the 1 digest kept" in reply
        assert len(digest_posts(world, digest_channel)) == 1


async def test_a_digest_discord_failed_is_sent_again_from_its_files_unless_something_was_deleted(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    from tests.e2e.test_feedback import forget

    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        made = failing_make(monkeypatch, service, lambda period: None)  # counts the digests made
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=503, count=2)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING and len(made) == 1
        # Discord fails again: the retry posts the files made before, without making them again.
        assert await bot.jobs.retry_pending_digests() == 0
        assert len(made) == 1
        # A member is forgotten meanwhile: the files go, and the digest is made again without them.
        assert "Deleted:" in await forget(world, world.asker_id)
        assert await bot.jobs.retry_pending_digests() == 1
        assert len(made) == 2
        [post] = digest_posts(world, digest_channel)
        assert not any(b"Question 0?" in text for text in posted_texts(post))


async def test_a_digest_discord_failed_is_made_again_when_its_asker_stops_allowing_quotes(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    """Lowering consent below quotes deletes nothing, but hides the member's questions from digests (PRIVACY.md):
    files made before the choice, which quote them, are not posted."""
    from tests.e2e.test_consent_integrity import choice
    from tests.e2e.test_feedback import choose

    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        made = failing_make(monkeypatch, service, lambda period: None)  # counts the digests made
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=503, count=1)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING and len(made) == 1
        ratings = rows(world, "SELECT count(*) FROM ratings")
        # The asker (quotes allowed, a public question of theirs rated) now allows comments only.
        notice = (await run(world, world.asker_id, "privacy consent")).original
        chosen = await choose(world, notice, world.asker_id, choice(notice, "comments"))
        assert "this deleted (or made unquotable) 1 rating, comment or question of yours" in chosen.original.content
        assert rows(world, "SELECT count(*) FROM ratings") == ratings, "nothing is deleted"
        assert await bot.jobs.retry_pending_digests() == 1
        assert len(made) == 2, "made again rather than posted from the files made before the choice"
        [post] = digest_posts(world, digest_channel)
        # The reports (the data files hold every question, under pseudonyms, for the research team).
        reports = [attachment.data for attachment in post.attachments if not attachment.filename.endswith(".zip")]
        assert reports and not any(b"Question 0?" in text for text in reports)
        assert any(b"(question not shown: the asker did not allow quoting)" in text for text in reports)


async def test_a_rating_reaction_taken_back_remakes_the_servers_kept_digest_only(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    """PRIVACY.md: taking back a rating reaction deletes that rating, and deletions reach the files of digests not
    posted yet. A deletion in another server (ratings are taken back often) does not remake this server's."""
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        made = failing_make(monkeypatch, service, lambda period: None)  # counts the digests made
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=503, count=2)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING and len(made) == 1
        async with bot.deleting_member_data(world.guild_id + 1) as elsewhere:
            elsewhere.deleted = True
        # Discord fails again: the files made before are posted again, not made again for the other server.
        assert await bot.jobs.retry_pending_digests() == 0
        assert len(made) == 1
        ratings = rows(world, "SELECT count(*) FROM ratings")[0][0]
        [answer] = [m for m in world.standin.bot_messages(world.channel_id) if m.components]
        [(value,)] = rows(world, "SELECT value FROM ratings WHERE rater_hash = (SELECT asker_hash FROM answers)")
        emoji = {3: "✅", 2: "🤔", 1: "❌"}[value]
        await world.standin.remove_reaction(world.channel_id, answer.id, world.asker_id, emoji)
        await eventually(lambda: rows(world, "SELECT count(*) FROM ratings")[0][0] == ratings - 1, what="the removal")
        assert await bot.jobs.retry_pending_digests() == 1
        assert len(made) == 2, "made again for this server's deletion"
        [post] = digest_posts(world, digest_channel)
        [data] = [a for a in post.attachments if a.filename == "data.zip"]
        with zipfile.ZipFile(io.BytesIO(data.data)) as bundle:
            exported = bundle.read("ratings.csv").decode().strip().split("\n")
        assert len(exported) - 1 == ratings - 1


async def test_a_rating_taken_back_for_the_members_other_reaction_also_remakes_the_kept_digest(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    """A member who shows two rating reactions and takes back the newer one is rated by the other: the value taken
    back is gone, as if deleted, so the kept digest is made again."""
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        [answer] = [m for m in world.standin.bot_messages(world.channel_id) if m.components]
        question = "SELECT value FROM ratings WHERE rater_hash = (SELECT asker_hash FROM answers)"
        [(value,)] = rows(world, question)
        emoji = {3: "✅", 2: "🤔", 1: "❌"}
        other = 1 if value != 1 else 2
        await world.standin.add_reaction(world.channel_id, answer.id, world.asker_id, emoji[other])
        await eventually(lambda: rows(world, question) == [(other,)], what="the newer reaction's rating")
        made = failing_make(monkeypatch, service, lambda period: None)
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=503, count=1)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING and len(made) == 1
        await world.standin.remove_reaction(world.channel_id, answer.id, world.asker_id, emoji[other])
        await eventually(lambda: rows(world, question) == [(value,)], what="the first reaction's rating again")
        assert await bot.jobs.retry_pending_digests() == 1
        assert len(made) == 2, "made again: the rating taken back is not posted"
