"""Research digests through the stand-in: exactly once, catch-up, delivery failures, exports, the CLI."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
import os
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.digests.schedule import latest_run, saved_trigger
from bot.digests.service import HISTORY_UNREADABLE, parse_timestamp
from bot.exit_status import EX_CONFIG
from bot.runtime import CultureBot
from bot.sandbox.fake_openai import Reply
from bot.storage import DigestRecord, DigestStatus, GuildSettings, SqliteStorage, sqlite_timestamp
from cogs.digest import PREVIEW_WITHOUT_DATA
from tests.e2e.conftest import set_guild_settings
from tests.e2e.test_mod_log import with_log_channel
from tests.e2e.test_scope_commands import reply_text, run
from tests.helpers import eventually, give_consent

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def db(world):
    return world.tmp_path / "bot.sqlite3"


def rows(world, sql, params=()):
    with sqlite3.connect(db(world)) as conn:
        return conn.execute(sql, params).fetchall()


async def rated_answers(world, count=3):
    """`count` answered questions, each rated by two consenting members."""
    await give_consent(db(world), world.guild_id, world.asker_id, "quotes")
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    for index in range(count):
        world.model.script(f"Answer number {index}.")
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention(f"Question {index}?"))
        expected = index + 1
        await eventually(lambda: answered(world) >= expected, what=f"answer {expected}")  # noqa: B023 - awaited here
    messages = [m for m in world.standin.bot_messages(world.channel_id) if m.components]
    for message, (first, second) in zip(messages, [("✅", "❌"), ("✅", "✅"), ("🤔", "❌")], strict=False):
        await world.standin.add_reaction(world.channel_id, message.id, world.asker_id, first)
        await world.standin.add_reaction(world.channel_id, message.id, world.member_id, second)
    await eventually(lambda: rows(world, "SELECT count(*) FROM ratings")[0][0] == 2 * count, what="the ratings")


async def sent_before(world, last_end: datetime, settings: dict[str, object]) -> None:
    """A server with these digest settings whose last digest, a week long, was sent and ended at `last_end`."""
    await set_guild_settings(world.settings(), world.guild_id, settings)
    storage = await SqliteStorage.open(db(world))
    try:
        old = await storage.claim_digest(
            world.guild_id, sqlite_timestamp(last_end - timedelta(days=7)), sqlite_timestamp(last_end)
        )
        assert old is not None
        await storage.update_digest(old.digest_id, DigestStatus.SENT)
    finally:
        await storage.close()


def answered(world) -> int:
    return int(rows(world, "SELECT count(*) FROM answers WHERE outcome = 'ok'")[0][0])


def digest_posts(world, channel_id):
    return [m for m in world.standin.bot_messages(channel_id) if m.embeds]


@dataclasses.dataclass(frozen=True)
class PostedDigest:
    """The one digest posted in a channel, with its report files and the files in its data.zip."""

    post: Any
    markdown: str
    page: str  # report.html
    data: dict[str, bytes]  # data.zip's files by name


async def post_digest_a_week_on(world, bot, channel_id) -> PostedDigest:
    """Make and post the server's digest as if a week had passed (its period has ended), and read what was posted."""
    assert bot.jobs is not None
    record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + timedelta(days=7))
    assert record is not None and record.status is DigestStatus.SENT
    [post] = digest_posts(world, channel_id)
    with zipfile.ZipFile(io.BytesIO(post.attachment("data.zip").data)) as archive:
        data = {name: archive.read(name) for name in archive.namelist()}
    markdown, page = (post.attachment(name).data.decode() for name in ("report.md", "report.html"))
    return PostedDigest(post, markdown, page, data)


async def test_digest_is_posted_once_with_report_chart_and_data(world, run_bot, moderator, digest_channel):
    async with run_bot(cooldown=0) as bot:
        await rated_answers(world)
        reply = await run(world, moderator, "digest channel", {"channel": digest_channel})
        assert f"<#{digest_channel}>" in await reply_text(world, reply)
        assert bot.jobs is not None
        # The scheduled time of this week has passed: the digest covering it is due exactly once.
        now = datetime.now(UTC) + timedelta(days=7)
        record = await bot.jobs.digests.run_due(world.guild_id, now=now)
        assert record is not None
        assert record.status is DigestStatus.SENT
        assert await bot.jobs.digests.run_due(world.guild_id, now=now) is None
        # Posted: no copy of its texts is left on disk, out of reach of retention and deletion requests.
        assert record.files_dir is not None and not Path(record.files_dir).exists()

        [post] = digest_posts(world, digest_channel)
        [embed] = post.embeds
        assert embed["footer"]["text"] == f"culturebot digest #{record.digest_id}"
        assert "ratings from 2 members" in embed["fields"][0]["value"]
        names = sorted(attachment.filename for attachment in post.attachments)
        assert names == ["chart.png", "data.zip", "report.html", "report.md"]
        assert post.attachment("chart.png").data.startswith(PNG_SIGNATURE)
        assert "@everyone" not in post.attachment("report.md").data.decode()
        with zipfile.ZipFile(io.BytesIO(post.attachment("data.zip").data)) as data:
            ratings = list(csv.DictReader(io.StringIO(data.read("ratings.csv").decode())))
            assert len(ratings) == 6
            assert {row["value"] for row in ratings} == {"1", "2", "3"}
            assert "rater_hash" in ratings[0]
            assert str(world.asker_id) not in data.read("ratings.csv").decode()
    # A restart does not send it again.
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        await bot.jobs.catch_up()
        assert len(digest_posts(world, digest_channel)) == 1
    assert rows(world, "SELECT count(*), min(status) FROM digests") == [(1, "sent")]


async def test_missed_digest_is_caught_up_once_at_start(world, run_bot, digest_channel):
    # The last digest ended three weeks ago; the bot was down for the scheduled times since.
    last_end = datetime.now(UTC) - timedelta(days=21)
    await sent_before(world, last_end, {"digest_channel_id": digest_channel})
    async with run_bot():
        await eventually(lambda: len(digest_posts(world, digest_channel)) == 1, 90, "the catch-up digest")
    async with run_bot():
        await eventually(lambda: rows(world, "SELECT count(*) FROM digests")[0][0] == 2, what="records")
    assert len(digest_posts(world, digest_channel)) == 1, "a second start sends nothing more"
    [(start, end)] = rows(world, "SELECT period_start, period_end FROM digests WHERE digest_id = 2")
    assert start == sqlite_timestamp(last_end)
    assert end > start


async def test_a_first_digest_missed_while_down_is_caught_up_once(world, run_bot, moderator, digest_channel):
    async with run_bot(cooldown=0) as bot:
        await rated_answers(world, count=1)
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
    # Set up just now: no scheduled time has passed since, so a start sends nothing (the first digest comes at
    # its scheduled time, not when the bot starts).
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        await bot.jobs.catch_up()
        assert digest_posts(world, digest_channel) == []
    # Set up eight days ago, and the bot was down at the weekly time since: that first digest is sent, once.
    set_up = sqlite_timestamp(datetime.now(UTC) - timedelta(days=8))
    with sqlite3.connect(db(world)) as conn:
        conn.execute("UPDATE audit_log SET created_at = ? WHERE detail LIKE 'digest: %'", (set_up,))
    async with run_bot(cooldown=0):
        await eventually(lambda: len(digest_posts(world, digest_channel)) == 1, 90, "the missed first digest")
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        await bot.jobs.catch_up()
    assert len(digest_posts(world, digest_channel)) == 1, "a second start sends nothing more"
    [(start, end)] = rows(world, "SELECT period_start, period_end FROM digests")
    trigger = saved_trigger(GuildSettings(world.guild_id))
    assert trigger is not None
    scheduled = latest_run(trigger, datetime.now(UTC))
    assert scheduled is not None and end == sqlite_timestamp(scheduled)
    assert start == sqlite_timestamp(parse_timestamp(end) - timedelta(days=7))


async def test_shutdown_waits_one_grace_period_for_answers_and_digests_together(world, run_bot, digest_channel):
    # A catch-up digest waiting out a rate limit on its post, and an answer that takes far longer than the grace
    # period: each is given the same grace period, at the same time, rather than one after the other.
    await sent_before(world, datetime.now(UTC) - timedelta(days=21), {"digest_channel_id": digest_channel})
    world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", retry_after=30)
    world.model.script(Reply(" ".join(f"w{i}" for i in range(400)), tokens_per_second=10))
    grace = 2.0
    async with run_bot(cooldown=0, shutdown_grace_seconds=grace) as bot:
        await eventually(lambda: any(r.fault for r in world.standin.requests), 90, "the digest's post to wait")
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("A long one?"))
        await eventually(lambda: rows(world, "SELECT outcome FROM answers") == [("streaming",)], what="streaming")
        started = time.monotonic()
        await bot.close()
        took = time.monotonic() - started
    assert took < 1.75 * grace, f"shutdown took {took:.1f} s with a grace period of {grace} s"
    assert rows(world, "SELECT outcome, error FROM answers") == [("incomplete", "interrupted by shutdown")]
    # The digest was not posted; it stays to be posted at the next start.
    assert digest_posts(world, digest_channel) == []
    assert rows(world, "SELECT status FROM digests WHERE digest_id = 2") != [("sent",)]


async def test_a_digest_waits_for_an_answer_still_being_written(world, run_bot, digest_channel):
    await set_guild_settings(world.settings(), world.guild_id, {"digest_channel_id": digest_channel})
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        world.model.script(Reply("An answer that takes a while to write.", ttft=1.5))
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("A slow question?"))
        await eventually(lambda: rows(world, "SELECT outcome FROM answers") == [("streaming",)], what="streaming")
        # Due while the answer asked in its period is being written: the digest waits for it rather than
        # leave it out (the next digest starts after the period, so it would be in no digest at all).
        record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + timedelta(days=7))
        assert record is not None and record.status is DigestStatus.SENT
        [post] = digest_posts(world, digest_channel)
        assert post.embeds[0]["fields"][0]["value"].startswith("1 answer, ")
        assert rows(world, "SELECT outcome FROM answers") == [("ok",)]


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("*/5 * * * *", "runs more than once an hour"),
        ("0 9 1 * mon", "sets both a day of the month and a weekday"),  # which it ran only on Mondays the 1st
    ],
)
async def test_a_saved_schedule_no_longer_accepted_does_not_stop_the_bot(
    world, run_bot, digest_channel, caplog, cron, why
):
    # Saved by an earlier version, which accepted it.
    log_channel = int(world.standin.add_channel(world.guild_id, "mod-log")["id"])
    changes = {"digest_channel_id": digest_channel, "digest_cron": cron, "log_channel_id": log_channel}
    await set_guild_settings(world.settings(), world.guild_id, changes)

    def told() -> list[str]:
        return [
            m.content
            for m in world.standin.bot_messages(log_channel)
            if "No scheduled research digest is made" in m.content
        ]

    with caplog.at_level(logging.WARNING):
        async with run_bot() as bot:
            assert bot.jobs is not None
            assert bot.jobs.next_digest_time(world.guild_id) is None
            assert await bot.jobs.digests.run_due(world.guild_id) is None
            # The research team would otherwise just stop getting digests: the moderators hear why, and what to do.
            [note] = await eventually(told, what="the moderators' note")
            assert f"`{cron}` (UTC)" in note and why in note and "`/digest schedule`" in note
    assert f"server {world.guild_id}'s saved digest schedule is not used" in caplog.text
    assert why in caplog.text
    assert rows(world, "SELECT count(*) FROM digests") == [(0,)]
    # Told once: a restart finds the same schedule and says nothing more.
    async with run_bot() as bot:
        assert bot.jobs is not None
        await bot.jobs.catch_up()
        assert len(told()) == 1
    # Remembered in the audit log, by the bot (which is what a restart reads back).
    assert rows(world, "SELECT action, actor_id FROM audit_log WHERE action = 'digest.schedule_refused'") == [
        ("digest.schedule_refused", world.standin.bot_user_id)
    ]


async def test_digest_channel_says_when_the_saved_schedule_is_refused(world, run_bot, moderator, digest_channel):
    """A moderator choosing a channel for a schedule saved by an earlier version, refused now, hears why no digest will
    come, rather than a reply that looks like all is set (and has no next time)."""
    await set_guild_settings(world.settings(), world.guild_id, {"digest_cron": "*/5 * * * *"})
    async with run_bot():
        reply = await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
    assert f"channel: <#{digest_channel}>." in reply and "next:" not in reply
    assert "No scheduled digest is made: this schedule is no longer accepted." in reply
    assert "runs more than once an hour" in reply and "`/digest schedule`" in reply


async def test_a_refused_schedule_nobody_could_be_told_of_is_told_at_a_later_start(world, run_bot, digest_channel):
    """No moderation log channel and no system channel: nothing is posted, so nothing is remembered as told; once a
    log channel is set, the next start tells the moderators."""
    await set_guild_settings(
        world.settings(), world.guild_id, {"digest_channel_id": digest_channel, "digest_cron": "0 9 1 * mon"}
    )
    async with run_bot() as bot:
        assert bot.jobs is not None
        await bot.jobs.catch_up()
    assert rows(world, "SELECT count(*) FROM audit_log WHERE action = 'digest.schedule_refused'") == [(0,)]

    log_channel = int(world.standin.add_channel(world.guild_id, "mod-log")["id"])
    await set_guild_settings(world.settings(), world.guild_id, {"log_channel_id": log_channel})
    async with run_bot():
        await eventually(
            lambda: [
                m
                for m in world.standin.bot_messages(log_channel)
                if "No scheduled research digest is made" in m.content
            ],
            what="the moderators' note",
        )
    assert rows(world, "SELECT count(*) FROM audit_log WHERE action = 'digest.schedule_refused'") == [(1,)]


async def test_a_server_that_removed_the_bot_gets_no_more_digests(world, run_bot, digest_channel):
    # The last digest ended three weeks ago (a weekly one is due, a start would catch it up); yearly for now.
    last_end = datetime.now(UTC) - timedelta(days=21)
    await sent_before(world, last_end, {"digest_channel_id": digest_channel, "digest_cron": "0 3 1 1 *"})
    async with run_bot() as bot:
        assert bot.jobs is not None and bot.jobs.next_digest_time(world.guild_id) is not None
        world.standin.remove_bot(world.guild_id)
        await eventually(lambda: bot.jobs.next_digest_time(world.guild_id) is None, what="its digests unscheduled")
    # Started again while still removed, with a digest due under a weekly schedule: it is not made, and nothing is
    # scheduled.
    await set_guild_settings(world.settings(), world.guild_id, {"digest_cron": "0 9 * * mon"})
    async with run_bot() as bot:
        assert bot.jobs is not None
        await eventually(lambda: bot.jobs.next_digest_time(world.guild_id) is None, what="not scheduled after start")
    assert rows(world, "SELECT count(*) FROM digests") == [(1,)]


async def test_unusable_channel_keeps_the_digest_and_tells_moderators(world, run_bot, moderator, digest_channel):
    log_channel = int(world.standin.add_channel(world.guild_id, "mod-log")["id"])
    async with run_bot(cooldown=0) as bot:
        await rated_answers(world, count=1)
        await run(world, moderator, "scope settings", {"log_channel": log_channel})
        # The command defers before it saves the channel: wait for its answer.
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        # The bot loses the right to post in the digest channel.
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=1 << 11, type=1)
        assert bot.jobs is not None
        record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + timedelta(days=7))
        assert record is not None
        assert record.status is DigestStatus.UNDELIVERED
        note = await world.standin.wait_for_message(log_channel, lambda m: "could not be posted" in m.content)
        assert "/digest channel" in note.content
        assert digest_posts(world, digest_channel) == []

        # A channel that works: the kept digest is sent.
        working = int(world.standin.add_channel(world.guild_id, "digest-2")["id"])
        reply = await run(world, moderator, "digest channel", {"channel": working})
        assert "Sent the 1 digest kept" in await reply_text(world, reply)
        assert len(digest_posts(world, working)) == 1
    assert rows(world, "SELECT status FROM digests") == [("sent",)]


async def kept_undelivered(world, bot: CultureBot, moderator, digest_channel) -> DigestRecord:
    """A rated answer, and its digest kept undelivered: the bot may not post in the digest channel."""
    await rated_answers(world, count=1)
    await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
    world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=1 << 11, type=1)
    assert bot.jobs is not None
    record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + timedelta(days=7))
    assert record is not None and record.status is DigestStatus.UNDELIVERED
    return record


async def test_forget_removes_digest_files_not_posted_yet(world, run_bot, moderator, digest_channel):
    from tests.e2e.test_feedback import forget

    async with run_bot(cooldown=0) as bot:
        await kept_undelivered(world, bot, moderator, digest_channel)

        def files_with(text: bytes) -> list[Path]:
            # Polled while the bot deletes them: a file listed may be gone by the time it is read.
            def holds(path: Path) -> bool:
                try:
                    return path.suffix == ".zip" or text in path.read_bytes()
                except FileNotFoundError:
                    return False

            return [path for path in bot.settings.digest_dir.rglob("*") if path.is_file() and holds(path)]

        assert files_with(b"Question 0?"), "the kept digest's files hold the asker's question"
        await forget(world, world.asker_id)
        await eventually(lambda: not files_with(b"Question 0?"), what="the kept digest's files to go")
        # Sent as soon as the bot may post there again: remade from the database, without the forgotten question.
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, allow=1 << 11, type=1)
        [post] = await eventually(lambda: digest_posts(world, digest_channel), what="the kept digest's post")
        texts = posted_texts(post)
        assert any(b"Answer number 0." in text for text in texts), "the answer is still in the digest"
        assert not any(b"Question 0?" in text for text in texts)


def posted_texts(post) -> list[bytes]:
    """Every attachment of a digest post, and every file in its zip bundle."""
    texts = [attachment.data for attachment in post.attachments if not attachment.filename.endswith(".zip")]
    for attachment in post.attachments:
        if attachment.filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(attachment.data)) as bundle:
                texts += [bundle.read(name) for name in bundle.namelist()]
    return texts


async def test_a_digest_being_made_when_a_member_is_forgotten_is_made_again_without_them(
    world, run_bot, moderator, digest_channel
):
    from tests.e2e.test_feedback import forget

    async with run_bot(cooldown=0) as bot:
        await rated_answers(world, count=1)
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        assert bot.jobs is not None
        digests = bot.jobs.digests
        # The digest's rows are read and its files made; it is then held (as a slow statistics step would be)
        # while the asker asks to be forgotten.
        made, release, makes = asyncio.Event(), asyncio.Event(), []
        make_files = digests.make_files

        async def held(*args, **kwargs):
            files = await make_files(*args, **kwargs)
            makes.append(b"Question 0?" in files.markdown.read_bytes())
            made.set()
            await release.wait()
            return files

        digests.make_files = held
        due = asyncio.create_task(digests.run_due(world.guild_id, now=datetime.now(UTC) + timedelta(days=7)))
        await asyncio.wait_for(made.wait(), 60)
        assert "Deleted:" in await forget(world, world.asker_id)
        release.set()
        record = await asyncio.wait_for(due, 60)
        assert record is not None and record.status is DigestStatus.SENT
        assert makes == [True, False], "made again after the forget, from the database as it is now"
        [post] = digest_posts(world, digest_channel)
        texts = posted_texts(post)
        assert any(b"Answer number 0." in text for text in texts)
        assert not any(b"Question 0?" in text for text in texts)


async def test_an_export_being_made_when_a_member_is_forgotten_is_made_again_without_them(world, run_bot, moderator):
    """The member is told "Deleted" while a researcher's export is being made: the export must not carry them."""
    from tests.e2e.test_feedback import forget

    researcher_role, researcher, span = researcher_with_a_day(world)
    async with run_bot(cooldown=0) as bot:
        await rated_answers(world, count=1)
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researcher_role["id"]}))
        assert bot.jobs is not None
        digests = bot.jobs.digests
        made, release, makes = asyncio.Event(), asyncio.Event(), []
        make_files = digests.make_files

        async def held(*args, **kwargs):
            files = await make_files(*args, **kwargs)
            makes.append(b"Question 0?" in files.markdown.read_bytes())
            made.set()
            await release.wait()
            return files

        digests.make_files = held
        export = await run(world, researcher, "research-export", span)
        await asyncio.wait_for(made.wait(), 60)
        assert "Deleted:" in await forget(world, world.asker_id)
        release.set()
        followup = await world.standin.wait_for_followup(export.id, timeout=60)
    assert makes == [True, False], "made again after the forget, from the database as it is now"
    with zipfile.ZipFile(io.BytesIO(followup.attachment("data.zip").data)) as data:
        texts = [data.read(name) for name in data.namelist()]
    texts.append(followup.attachment("report.md").data)
    assert any(b"Answer number 0." in text for text in texts)
    assert not any(b"Question 0?" in text for text in texts)


async def test_a_digest_whose_member_is_forgotten_while_it_is_being_posted_is_not_posted_as_made(
    world, run_bot, moderator, digest_channel
):
    """Between the files being made and the post (the channel checked, the files zipped: seconds for a large
    server) a member is forgotten: the digest is kept, made again from the database, then posted without them."""
    from bot.digests.service import DELETED_MEANWHILE
    from tests.e2e.test_feedback import forget

    async with run_bot(cooldown=0) as bot:
        await rated_answers(world, count=1)
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        assert bot.jobs is not None
        digests = bot.jobs.digests
        find_posted, forgotten = digests._find_posted, list[str]()

        async def forget_first(*args, **kwargs):
            if not forgotten:
                forgotten.append(await forget(world, world.asker_id))
            return await find_posted(*args, **kwargs)

        digests._find_posted = forget_first
        record = await digests.run_due(world.guild_id, now=datetime.now(UTC) + timedelta(days=7))
        assert "Deleted:" in forgotten[0]
        assert record is not None and record.status is DigestStatus.PENDING and record.error == DELETED_MEANWHILE
        assert digest_posts(world, digest_channel) == []
        assert await bot.jobs.retry_pending_digests() == 1
        [post] = digest_posts(world, digest_channel)
        texts = posted_texts(post)
        assert any(b"Answer number 0." in text for text in texts)
        assert not any(b"Question 0?" in text for text in texts)


@pytest.mark.parametrize("deletion", ["consent withdrawn", "retention"])
async def test_deleted_feedback_takes_the_files_of_digests_not_posted_yet_along(
    world, run_bot, moderator, digest_channel, deletion
):
    from tests.e2e.test_feedback import button_labeled, choose

    async with run_bot(cooldown=0) as bot:
        record = await kept_undelivered(world, bot, moderator, digest_channel)
        assert record.files_dir is not None
        folder = Path(record.files_dir)
        assert folder.is_dir()
        if deletion == "retention":
            # Texts up to a period older than the folder: the folder is not past the retention period yet.
            later = (datetime.now(UTC) + timedelta(days=3)).timestamp()
            os.utime(folder, (later, later))
            await bot.jobs.retention(now=datetime.now(UTC) + timedelta(days=181))
            assert rows(world, "SELECT question FROM answers") == [("",)]
        else:
            notice = (await run(world, world.member_id, "privacy consent")).original
            await choose(world, notice, world.member_id, button_labeled(notice, "No, thanks"))
            assert rows(world, "SELECT count(*) FROM ratings") == [(1,)], "the member's rating is gone"
        await eventually(lambda: not folder.exists(), what="the kept digest's files to go")
        assert rows(world, "SELECT status FROM digests WHERE digest_id = ?", (record.digest_id,)) == [("undelivered",)]


async def with_log_and_digest_channels(world, moderator, digest_channel) -> int:
    """A rated answer, a moderation log channel (its id) and the digest channel, set by the moderator."""
    log_channel = int(world.standin.add_channel(world.guild_id, "mod-log")["id"])
    await rated_answers(world, count=1)
    await run(world, moderator, "scope settings", {"log_channel": log_channel})
    await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
    return log_channel


async def test_a_digest_discord_failed_to_take_is_tried_again(world, run_bot, moderator, digest_channel):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        # Discord fails on its side (not retried by discord.py): the post may or may not have happened.
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=503)
        record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + timedelta(days=7))
        assert record is not None and record.status is DigestStatus.PENDING
        assert record.error is not None and record.error.startswith("Discord failed (503")
        note = await world.standin.wait_for_message(log_channel, lambda m: "could not be posted yet" in m.content)
        assert "tried again every 10 minutes" in note.content
        # The period in each moderator's own time (Discord's timestamps), not UTC dates that may be a day off.
        start, end = (
            int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp())
            for moment in (record.period_start, record.period_end)
        )
        assert note.content.startswith(f"The research digest for <t:{start}:f> – <t:{end}:f> (your time; ")
        assert digest_posts(world, digest_channel) == []

        # The retry job posts it once, and a later run finds nothing left to send.
        assert await bot.jobs.retry_pending_digests() == 1
        assert len(digest_posts(world, digest_channel)) == 1
        assert rows(world, "SELECT status, error FROM digests") == [("sent", None)]
        assert await bot.jobs.retry_pending_digests() == 0
        assert len(digest_posts(world, digest_channel)) == 1


async def test_a_retry_that_cannot_check_the_channel_waits_instead_of_risking_a_double(
    world, run_bot, moderator, digest_channel
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        await with_log_and_digest_channels(world, moderator, digest_channel)
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=503)
        record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + timedelta(days=7))
        assert record is not None and record.status is DigestStatus.PENDING
        # The post may have happened: a retry looks for it first, and cannot while history is hidden from the bot.
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=1 << 16, type=1)
        assert await bot.jobs.retry_pending_digests() == 0
        assert rows(world, "SELECT status, error FROM digests") == [("pending", HISTORY_UNREADABLE)]
        assert digest_posts(world, digest_channel) == []
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=0, type=1)
        assert await bot.jobs.retry_pending_digests() == 1
        assert len(digest_posts(world, digest_channel)) == 1


async def test_kept_digests_wait_quietly_while_the_channel_is_gone(world, run_bot, moderator, digest_channel):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        world.standin.delete_channel(digest_channel)
        await eventually(lambda: bot.get_channel(digest_channel) is None, what="the channel gone for the bot")
        for weeks in (1, 2):
            record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + timedelta(days=7 * weeks))
            assert record is not None and record.status is DigestStatus.UNDELIVERED
        notes = lambda: [m for m in world.standin.bot_messages(log_channel) if "could not be posted" in m.content]  # noqa: E731
        await eventually(lambda: len(notes()) == 2, what="one note per digest")
        # A restart (or any resend) while the channel is still gone remakes nothing and repeats no note.
        assert await bot.jobs.digests.resend_kept(world.guild_id) == 0
        assert len(notes()) == 2
        assert rows(world, "SELECT count(*) FROM digests WHERE status = 'undelivered'") == [(2,)]


async def test_a_digest_channel_the_bot_cannot_post_in_is_refused_when_chosen(world, run_bot, moderator):
    closed = int(world.standin.add_channel(world.guild_id, "closed")["id"])
    world.standin.set_permission_overwrite(closed, world.standin.bot_user_id, deny=(1 << 15) | (1 << 14), type=1)
    team_only = int(world.standin.add_channel(world.guild_id, "research-team")["id"])
    world.standin.set_permission_overwrite(team_only, world.guild_id, deny=1 << 10)  # @everyone cannot view
    world.standin.set_permission_overwrite(team_only, world.standin.bot_user_id, allow=1 << 10, type=1)
    async with run_bot(cooldown=0):
        refused = await reply_text(world, await run(world, moderator, "digest channel", {"channel": closed}))
        assert refused == (
            f"I can't post digests in <#{closed}>: I lack Embed Links, Attach Files there. Give me those "
            "permissions in the channel's settings (Permissions), then run `/digest channel` again."
        )
        assert rows(world, "SELECT digest_channel_id FROM guild_settings") in ([], [(None,)])

        open_text = await reply_text(
            world, await run(world, moderator, "digest channel", {"channel": world.channel_id})
        )
        assert f"Everyone in this server can read <#{world.channel_id}>" in open_text
        assert "data files (data.zip), which hold every comment, also those their authors did not allow" in open_text
        team_text = await reply_text(world, await run(world, moderator, "digest channel", {"channel": team_only}))
        assert f"channel: <#{team_only}>" in team_text and "Everyone in this server" not in team_text
        assert rows(world, "SELECT digest_channel_id FROM guild_settings") == [(team_only,)]


def researcher_with_a_day(world) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A "Researchers" role, a member holding it, and an export range of yesterday and today."""
    role = world.standin.add_role(world.guild_id, "Researchers")
    researcher = int(world.standin.add_member(world.guild_id, "dr-lan", roles=[role["id"]])["user"]["id"])
    today = datetime.now(UTC).date()
    return role, researcher, {"start": str(today - timedelta(days=1)), "end": str(today)}


async def test_research_export_needs_the_research_role(world, run_bot, moderator):
    researcher_role, researcher, span = researcher_with_a_day(world)
    async with run_bot(cooldown=0):
        await rated_answers(world, count=1)
        unset = await run(world, researcher, "research-export", span)
        assert "No research role is set" in await reply_text(world, unset)
        everyone = await run(world, moderator, "digest research-role", {"role": world.guild_id})  # @everyone's id
        assert (await reply_text(world, everyone)).startswith("Choose a role only researchers have: with @everyone")
        assert "No research role is set" in await reply_text(
            world, await run(world, researcher, "research-export", span)
        )
        await run(world, moderator, "digest research-role", {"role": researcher_role["id"]})
        refused = await run(world, moderator, "research-export", span)
        assert "Only members with the" in await reply_text(world, refused)
        allowed = await run(world, researcher, "research-export", span)
        followup = await world.standin.wait_for_followup(allowed.id, timeout=20)
        assert followup.ephemeral
        with zipfile.ZipFile(io.BytesIO(followup.attachment("data.zip").data)) as data:
            assert {
                "answers.csv",
                "ratings.csv",
                "comments.csv",
                "answers.jsonl",
                "codebook.md",
                "codebook.csv",
            } <= set(data.namelist())
        # The range ends at tomorrow's start: no feedback was given after it yet.
        report = followup.attachment("report.md").data.decode()
        assert "after the period ended" not in report and "the period had not ended yet." in report
        bad = await run(world, researcher, "research-export", {"start": "2026-13-01", "end": "2026-11-01"})
        assert "is not a date for `start`" in await reply_text(world, bad)


async def test_research_export_of_a_past_range_has_the_ratings_given_since(world, run_bot, moderator):
    researcher_role = world.standin.add_role(world.guild_id, "Researchers")
    researcher = int(world.standin.add_member(world.guild_id, "dr-lan", roles=[researcher_role["id"]])["user"]["id"])
    today = datetime.now(UTC).date()
    async with run_bot(cooldown=0):
        await rated_answers(world, count=2)
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researcher_role["id"]}))
        # The answers were asked ten days ago; their ratings came (or were changed) three days ago.
        asked = sqlite_timestamp(datetime.now(UTC) - timedelta(days=10))
        rated = sqlite_timestamp(datetime.now(UTC) - timedelta(days=3))
        with sqlite3.connect(db(world)) as conn:
            conn.execute("UPDATE answers SET created_at = ?", (asked,))
            conn.execute("UPDATE ratings SET created_at = ?, updated_at = ?", (rated, rated))
        span = {"start": str(today - timedelta(days=11)), "end": str(today - timedelta(days=9))}
        allowed = await run(world, researcher, "research-export", span)
        followup = await world.standin.wait_for_followup(allowed.id, timeout=20)
        with zipfile.ZipFile(io.BytesIO(followup.attachment("data.zip").data)) as data:
            ratings = list(csv.DictReader(io.StringIO(data.read("ratings.csv").decode())))
        assert len(ratings) == 4, "ratings given after the range are the range's answers' ratings too"
        report = followup.attachment("report.md").data.decode()
        assert "including those given after the period ended" in report
        assert "4 ratings" in followup.embeds[0]["fields"][0]["value"]


async def test_digest_preview_and_schedule_commands(world, run_bot, moderator):
    async with run_bot(cooldown=0):
        await rated_answers(world, count=1)
        scheduled = await run(world, moderator, "digest schedule", {"when": "daily", "timezone": "Asia/Jakarta"})
        text = await reply_text(world, scheduled)
        assert "`0 9 * * *` in Asia/Jakarta" in text
        # Another time without a time zone keeps the one set.
        weekly = await run(world, moderator, "digest schedule", {"when": "weekly"})
        assert "`0 9 * * mon` in Asia/Jakarta" in await reply_text(world, weekly)
        assert rows(world, "SELECT digest_timezone FROM guild_settings") == [("Asia/Jakarta",)]
        bad = await run(world, moderator, "digest schedule", {"when": "sometimes"})
        assert "is not a schedule" in await reply_text(world, bad)
        # A scope change since the rated answer: the digest names the new version as not rated yet.
        used = await run(world, moderator, "scope use", {"template": "indonesian-business-jakarta"})
        assert "(version 2)" in await reply_text(world, used)
        preview = await run(world, moderator, "digest preview")
        followup = await world.standin.wait_for_followup(preview.id, timeout=20)
        assert followup.ephemeral
        assert followup.embeds[0]["title"].startswith("Research digest")
        [versions] = [field["value"] for field in followup.embeds[0]["fields"] if field["name"] == "Scope versions"]
        assert versions.startswith(
            "In this and the previous period, v2 (in use at the period's end) has no ratings yet"
        ) and ("only one other version (v1) has rated answers" in versions)
        assert rows(world, "SELECT count(*) FROM digests") == [(0,)], "a preview is not recorded"
        # Manage Server shows the reports; the rows (every comment, under pseudonyms) need the research role.
        assert sorted(a.filename for a in followup.attachments) == ["chart.png", "report.html", "report.md"]
        assert followup.content == PREVIEW_WITHOUT_DATA
        researchers = world.standin.add_role(world.guild_id, "Researchers")
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researchers["id"]}))
        leads = world.standin.add_role(world.guild_id, "Research leads", permissions=1 << 5)  # MANAGE_GUILD
        lead = int(
            world.standin.add_member(world.guild_id, "dr-mod", roles=[researchers["id"], leads["id"]])["user"]["id"]
        )
        again = await world.standin.wait_for_followup((await run(world, lead, "digest preview")).id, timeout=20)
        with zipfile.ZipFile(io.BytesIO(again.attachment("data.zip").data)) as data:
            assert "comments.csv" in data.namelist()
        refused = await run(world, world.member_id, "digest now")
        assert (await reply_text(world, refused)).startswith("You need the Manage Server permission")


async def test_digest_now_sends_what_came_since_the_last_digest(world, run_bot, moderator, digest_channel):
    async with run_bot(cooldown=0):
        await rated_answers(world, count=1)
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        before = datetime.now(UTC)
        sent = await run(world, moderator, "digest now")
        assert f"Digest sent to <#{digest_channel}>" in await reply_text(world, sent)
        [(start, end, status)] = rows(world, "SELECT period_start, period_end, status FROM digests")
        assert status == "sent"
        # No digest before it: the last seven days, up to the moment it was asked for, with the answer and the
        # ratings made a moment before (in the same second).
        assert sqlite_timestamp(before) <= end <= sqlite_timestamp(datetime.now(UTC))
        assert start == sqlite_timestamp(datetime.fromisoformat(end.replace("Z", "+00:00")) - timedelta(days=7))
        [post] = digest_posts(world, digest_channel)
        assert "ratings from 2 members" in post.embeds[0]["fields"][0]["value"]

        # The preview now covers only what came after that digest: no ratings yet, and nothing is recorded.
        preview = await run(world, moderator, "digest preview")
        followup = await world.standin.wait_for_followup(preview.id, timeout=20)
        assert followup.ephemeral
        if followup.embeds:  # a preview in the same second as the digest has nothing to show
            assert "ratings from 2 members" not in followup.embeds[0]["fields"][0]["value"]
        else:
            assert followup.content == "Nothing to preview: the last digest is up to date."
        assert rows(world, "SELECT count(*) FROM digests") == [(1,)]

        # A second `/digest now` with no answer asked since would hold no feedback, and cut the next period short.
        text = await reply_text(world, await run(world, moderator, "digest now"))
        ended = int(datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp())
        nothing_new = f"Nothing to send: no answer was asked since the last digest's period ended (<t:{ended}:f>)"
        # (or, within the same millisecond, the last digest is up to date)
        assert text.startswith((nothing_new, "Nothing to send: the last digest is up to date")), text
        assert rows(world, "SELECT count(*) FROM digests") == [(1,)]

        # Once one was: it continues where the first ended; periods never overlap or leave a gap.
        world.model.script("Answer number 1.")
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("Question 1?"))
        await eventually(lambda: answered(world) >= 2, what="the second answer")
        again = await run(world, moderator, "digest now")
        assert f"Digest sent to <#{digest_channel}>" in await reply_text(world, again)
        periods = rows(world, "SELECT period_start, period_end FROM digests ORDER BY period_end")
        assert len(periods) == 2 and periods[1][0] == periods[0][1] < periods[1][1]
        assert len(digest_posts(world, digest_channel)) == 2
        # Periods alike to the minute: each digest keeps files of its own.
        assert rows(world, "SELECT count(DISTINCT files_dir) FROM digests") == [(2,)]


async def test_offline_digest_command_writes_the_same_files(world, run_bot, tmp_path):
    async with run_bot(cooldown=0):
        await rated_answers(world, count=2)
    today = datetime.now(UTC).date()
    out = tmp_path / "digest-out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "digest",
            "--db",
            str(db(world)),
            "--guild",
            str(world.guild_id),
            "--from",
            str(today - timedelta(days=6)),
            "--to",
            str(today),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    assert (out / "chart.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "Research digest" in (out / "report.md").read_text() or "digest" in (out / "report.md").read_text().lower()
    ratings = list(csv.DictReader((out / "ratings.csv").open(encoding="utf-8")))
    assert len(ratings) == 4
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "digest",
            "--db",
            str(tmp_path / "none.db"),
            "--guild",
            "1",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert missing.returncode == EX_CONFIG
    assert missing.stderr.strip() == f"culturebot: no database at {tmp_path / 'none.db'}"


async def test_a_schedule_pasted_with_quotes_and_any_time_zone_spelling_is_stored_normalised(world, run_bot, moderator):
    async with run_bot(cooldown=0):
        [digest] = [c for c in world.standin.commands() if c["name"] == "digest"]
        [schedule] = [o for o in digest["options"] if o["name"] == "schedule"]
        [when] = [o for o in schedule["options"] if o["name"] == "when"]
        assert "0 9 * * mon" in when["description"] and "'" not in when["description"]  # nothing to paste along
        pasted = await run(world, moderator, "digest schedule", {"when": "'0 9 * * mon'", "timezone": " asia/jakarta "})
        assert "`0 9 * * mon` in Asia/Jakarta" in await reply_text(world, pasted)
        stored = [("0 9 * * mon", "Asia/Jakarta")]
        assert rows(world, "SELECT digest_cron, digest_timezone FROM guild_settings") == stored
        for options, message in [
            ({"when": "0 25 * * *"}, "`0 25 * * *` is not a schedule: hour `25` is out of range: use 0-23."),
            ({"when": "`0 9 32 * *`"}, "`0 9 32 * *` is not a schedule: day of month `32` is out of range: use 1-31."),
            (
                {"when": "0 9 1 * mon"},
                "`0 9 1 * mon` sets both a day of the month and a weekday: cron runs on either, which this bot's "
                "scheduler cannot do. Give one of them, e.g. `0 9 1 * *` for those days of the month or `0 9 * * mon` "
                "for those weekdays.",
            ),
            ({"when": "daily", "timezone": "Asia/Jakarte"}, "`Asia/Jakarte` is not a time zone: did you mean `Asia/Ja"),
            ({"when": "daily", "timezone": "UTC+7"}, "`UTC+7` is an offset, not a time zone: offsets are not accepted"),
        ]:
            text = await reply_text(world, await run(world, moderator, "digest schedule", options))
            assert text.startswith(message), (options, text)
            assert "Error validating" not in text
            assert rows(world, "SELECT digest_cron, digest_timezone FROM guild_settings") == stored, options
        # A time zone saved with stray spaces by an earlier version is kept, and saved cleanly with the next change.
        await set_guild_settings(world.settings(), world.guild_id, {"digest_timezone": " Asia/Jakarta "})
        again = await run(world, moderator, "digest schedule", {"when": "daily"})
        assert "`0 9 * * *` in Asia/Jakarta;" in await reply_text(world, again)
        assert rows(world, "SELECT digest_cron, digest_timezone FROM guild_settings") == [("0 9 * * *", "Asia/Jakarta")]


async def test_research_export_reads_the_time_zone_as_typed_and_says_what_is_wrong_with_the_dates(
    world, run_bot, moderator
):
    researcher_role, researcher, span = researcher_with_a_day(world)
    async with run_bot(cooldown=0):
        await rated_answers(world, count=1)
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researcher_role["id"]}))
        for typed, shown in [(" UTC", "UTC"), ("asia/jakarta", "Asia/Jakarta")]:
            reply = await run(world, researcher, "research-export", span | {"timezone": typed})
            followup = await world.standin.wait_for_followup(reply.id, timeout=20)
            assert followup.embeds[0]["footer"]["text"].endswith(f"({shown})"), typed
            assert followup.attachment("data.zip").data
        for options, message in [
            (
                {"start": "2026-12-31", "end": "2026-01-01"},
                "`end` 2026-01-01 is before `start` 2026-12-31: swap them.",
            ),
            (
                {"start": "2000-01-01", "end": "2026-12-31"},
                "2000-01-01 to 2026-12-31 is 27 years; export at most 10 years at a time, e.g. 2000-01-01 to "
                "2009-12-31, then from 2010-01-01.",
            ),
            (span | {"timezone": "GMT-3"}, "`GMT-3` is an offset, not a time zone"),
        ]:
            text = await reply_text(world, await run(world, researcher, "research-export", options))
            assert text.startswith(message), (options, text)


async def test_research_export_says_when_the_research_role_was_deleted(world, run_bot, moderator):
    """A deleted role shows as "@deleted-role" in Discord: the refusal says what happened and who can fix it."""
    researcher_role, researcher, span = researcher_with_a_day(world)
    async with run_bot(cooldown=0) as bot:
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researcher_role["id"]}))
        world.standin.delete_role(world.guild_id, researcher_role["id"])
        await eventually(
            lambda: bot.get_guild(world.guild_id).get_role(int(researcher_role["id"])) is None,
            what="the bot to see the role deleted",
        )
        refused = await reply_text(world, await run(world, researcher, "research-export", span))
        assert refused == (
            "The research role set for this server was deleted, so nobody can export research data until another is "
            "chosen. An administrator chooses one with `/digest research-role`."
        )


async def test_a_role_managed_by_an_integration_is_not_taken_as_the_research_role(world, run_bot, moderator):
    [bot_role] = [role for role in world.standin.state.guild(world.guild_id).roles.values() if role.bot_id]
    researchers = world.standin.add_role(world.guild_id, "Researchers")
    async with run_bot(cooldown=0):
        refused = await reply_text(world, await run(world, moderator, "digest research-role", {"role": bot_role.id}))
        assert refused.startswith(f"<@&{bot_role.id}> belongs to a bot or integration: Discord gives it to that")
        assert "Choose a role you give to the research team" in refused
        assert rows(world, "SELECT research_role_id FROM guild_settings") in ([], [(None,)])
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researchers["id"]}))
        assert rows(world, "SELECT research_role_id FROM guild_settings") == [(int(researchers["id"]),)]


async def test_a_refused_schedule_is_told_once_at_a_time_and_again_after_a_digest_setting_changes(
    world, run_bot, moderator, digest_channel
):
    await set_guild_settings(
        world.settings(), world.guild_id, {"digest_channel_id": digest_channel, "digest_cron": "0 9 1 * mon"}
    )

    def told(log_channel: int) -> list[str]:
        return [m.content for m in world.standin.bot_messages(log_channel) if "No scheduled research" in m.content]

    async with run_bot() as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        # The start-up catch-up (a background task) is over before a log channel is set: no channel to tell in yet.
        await eventually(lambda: bot._catch_up is not None and bot._catch_up.done(), what="the start-up catch-up")
        log_channel = await with_log_channel(world, moderator)
        # Two at once (a start-up catch-up and another): one note.
        assert sorted(await asyncio.gather(*(service.tell_schedule_refused(world.guild_id) for _ in range(2)))) == [
            False,
            True,
        ]
        assert len(told(log_channel)) == 1
        # A /digest setting changed since (the moderator heard of it in the reply too): the next start tells again.
        other = int(world.standin.add_channel(world.guild_id, "research-digest-2")["id"])
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": other}))
    async with run_bot():
        await eventually(lambda: len(told(log_channel)) == 2, what="the note after the change")
    async with run_bot() as bot:
        assert bot.jobs is not None
        await bot.jobs.catch_up()
        assert len(told(log_channel)) == 2
