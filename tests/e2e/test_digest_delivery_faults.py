"""Digests through the stand-in when things go wrong between making and posting: a crash after the post, a failed
make, settings changed while a digest is made, and exports of dates at the ends of the calendar."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
import sys
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from bot.digests.schedule import Period
from bot.digests.service import DIGESTS_OFF, MAKE_ATTEMPTS, WORKER_STOPPED
from bot.digests.workers import WorkerStopped
from bot.runtime import CultureBot
from bot.sandbox.fake_openai import Reply
from bot.storage import DigestRecord, DigestStatus, sqlite_timestamp
from tests.e2e.test_digests import (
    db,
    digest_posts,
    rated_answers,
    rows,
    sent_before,
    with_log_and_digest_channels,
)
from tests.e2e.test_scope_commands import reply_text, run
from tests.helpers import eventually

ATTACH_FILES = 1 << 15
NEXT_WEEK = timedelta(days=7)


def crash_before_recording_sent(monkeypatch: pytest.MonkeyPatch, storage) -> asyncio.Event:
    """The process dies after the digest is posted but before its record says so (the next update raises); the
    event is set when it did."""
    real = storage.update_digest
    crashed = asyncio.Event()

    async def update_digest(digest_id, status, **changes):
        if status is DigestStatus.SENT:
            crashed.set()
            raise RuntimeError("the process was killed here")
        await real(digest_id, status, **changes)

    monkeypatch.setattr(storage, "update_digest", update_digest)
    return crashed


def failing_make(monkeypatch: pytest.MonkeyPatch, service, fails) -> list[Period]:
    """`service.make_files` raises what `fails(period)` returns (when not None); the periods it was asked for."""
    real = service.make_files
    asked: list[Period] = []

    async def make_files(guild_id, period, directory, **options):
        asked.append(period)
        if (error := fails(period)) is not None:
            raise error
        return await real(guild_id, period, directory, **options)

    monkeypatch.setattr(service, "make_files", make_files)
    return asked


def notes(world, channel_id: int, text: str) -> list[str]:
    return [m.content for m in world.standin.bot_messages(channel_id) if text in m.content]


# 1. A digest posted just before a crash is not posted again.


async def test_an_undelivered_digest_posted_just_before_a_crash_is_not_posted_again(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        # Discord refuses the files: kept as undelivered.
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=ATTACH_FILES, type=1)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.UNDELIVERED

        with monkeypatch.context() as patched:
            crashed = crash_before_recording_sent(patched, bot.storage)
            # The bot may post again: the kept digest is sent at once; posted, its record is not updated.
            world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=0, type=1)
            await asyncio.wait_for(crashed.wait(), 60)
        assert len(digest_posts(world, digest_channel)) == 1
        assert rows(world, "SELECT status, channel_id FROM digests") == [("pending", digest_channel)]
        # The research team talks about it before the bot is back: the post is not among the newest 50 messages.
        for n in range(60):
            await world.standin.send_message(digest_channel, moderator, f"note {n} on this week's digest")

        # The next start's catch-up finds it in the channel instead of posting it again.
        await bot.jobs.catch_up()
        assert len(digest_posts(world, digest_channel)) == 1
        [post] = digest_posts(world, digest_channel)
        assert rows(world, "SELECT status, message_id FROM digests") == [("sent", post.id)]


async def test_a_kept_digest_posted_long_after_its_claim_is_found_after_a_crash(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    """Kept (undelivered) digests go out days after their claim: the scan from the claim on may not reach the post
    in a busy channel, and the newest messages are read too."""
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        monkeypatch.setattr(sys.modules[type(service).__module__], "HISTORY_SCAN", 5)  # as 1,000 in a busy channel
        await with_log_and_digest_channels(world, moderator, digest_channel)
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=ATTACH_FILES, type=1)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.UNDELIVERED
        for n in range(10):  # the days between the claim and the post
            await world.standin.send_message(digest_channel, moderator, f"where is the digest? ({n})")
        with monkeypatch.context() as patched:
            crashed = crash_before_recording_sent(patched, bot.storage)
            world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=0, type=1)
            await asyncio.wait_for(crashed.wait(), 60)  # sent once the bot may post again
        assert len(digest_posts(world, digest_channel)) == 1
        await bot.jobs.catch_up()
        assert len(digest_posts(world, digest_channel)) == 1, "found among the newest messages, not posted again"


async def test_a_digest_posted_before_a_crash_is_found_after_the_channel_changed(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        with monkeypatch.context() as patched:
            crash_before_recording_sent(patched, bot.storage)
            with pytest.raises(RuntimeError):
                await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert len(digest_posts(world, digest_channel)) == 1

        # The moderators move the digest; the kept one is resent there, unless it was posted already.
        moved = int(world.standin.add_channel(world.guild_id, "research-team")["id"])
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": moved}))
        assert digest_posts(world, moved) == []
        assert len(digest_posts(world, digest_channel)) == 1
        assert rows(world, "SELECT status, channel_id FROM digests") == [("sent", digest_channel)]


# 2. A digest that could not be made is made again, a bounded number of times, and the moderators are told.


async def test_a_digest_that_could_not_be_made_is_made_again_and_the_moderators_told(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        disk_full = [OSError(28, "No space left on device")]
        failing_make(monkeypatch, service, lambda period: disk_full.pop() if disk_full else None)
        now = datetime.now(UTC) + NEXT_WEEK
        record = await service.run_due(world.guild_id, now=now)
        assert record is not None and record.status is DigestStatus.PENDING and record.files_dir is None
        assert record.error is not None and record.error.startswith("the digest could not be made (attempt 1)")
        assert "No space left on device" in record.error
        [note] = await eventually(lambda: notes(world, log_channel, "could not be made"), what="the moderators' note")
        assert "No space left on device" in note and "every 10 minutes" in note
        assert digest_posts(world, digest_channel) == []

        # The retry job makes and posts it, and the next period follows it as usual.
        assert await bot.jobs.retry_pending_digests() == 1
        assert len(digest_posts(world, digest_channel)) == 1
        assert rows(world, "SELECT status, error FROM digests") == [("sent", None)]
        later = await service.run_due(world.guild_id, now=now + NEXT_WEEK)
        assert later is not None and later.status is DigestStatus.SENT
        assert len(notes(world, log_channel, "could not be made")) == 1


async def test_a_digest_whose_failure_cannot_be_recorded_is_still_told_to_the_moderators(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    """A full disk fails the digest's files and then the record of that failure: the moderators are told all the
    same (the making is not retried until the next start, which they are told). Before, the failed record escaped
    and nobody was told."""
    import sqlite3

    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        failing_make(monkeypatch, service, lambda period: OSError(28, "No space left on device"))
        update_digest = bot.storage.update_digest

        async def update_digest_on_a_full_disk(digest_id, status, **changes):
            if str(changes.get("error") or "").startswith("the digest could not be made"):
                raise sqlite3.OperationalError("database or disk is full")
            return await update_digest(digest_id, status, **changes)

        monkeypatch.setattr(bot.storage, "update_digest", update_digest_on_a_full_disk)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING and record.files_dir is None
        [note] = await eventually(lambda: notes(world, log_channel, "could not be made"), what="the moderators' note")
        assert "No space left on device" in note
        assert "could not even record the failure (is its disk full?): it is made again at its next start" in note
        assert digest_posts(world, digest_channel) == []


async def test_a_digest_that_keeps_failing_is_retried_a_bounded_number_of_times(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        asked = failing_make(monkeypatch, service, lambda period: RuntimeError("a bug"))
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING
        for _ in range(MAKE_ATTEMPTS + 2):
            assert await bot.jobs.retry_pending_digests() == 0
        assert len(asked) == MAKE_ATTEMPTS, "tried MAKE_ATTEMPTS times in all, then left to the next start"
        [(status, error)] = rows(world, "SELECT status, error FROM digests")
        assert status == "pending" and error.startswith(f"the digest could not be made (attempt {MAKE_ATTEMPTS})")
        await eventually(lambda: notes(world, log_channel, "could not be made"), what="the moderators' note")
        assert len(notes(world, log_channel, "could not be made")) == 1, "told once"

        # The next start makes it again.
        asked.clear()
        monkeypatch.undo()
        await bot.jobs.catch_up()
        assert len(digest_posts(world, digest_channel)) == 1
        assert rows(world, "SELECT status FROM digests") == [("sent",)]


async def test_a_digest_made_again_after_a_schedule_change_compares_with_the_period_it_was_claimed_with(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    """Its comparison period is worked out when the period is claimed and kept with it: made again after the
    moderators moved from weekly to daily, it still compares with the week before, as its provenance says."""
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        errors: list[Exception] = [RuntimeError("a bug")]
        failing_make(monkeypatch, service, lambda period: errors.pop() if errors else None)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING
        [(start, compared_from)] = rows(world, "SELECT period_start, compared_from FROM digests")
        week_before = datetime.fromisoformat(start) - timedelta(days=7)
        assert datetime.fromisoformat(compared_from) == week_before
        await run(world, moderator, "digest schedule", {"when": "daily"})
        await bot.jobs.retry_pending_digests()
        assert rows(world, "SELECT status FROM digests") == [("sent",)]
        [post] = digest_posts(world, digest_channel)
        assert f"--compare-from {compared_from}" in post.attachment("report.md").data.decode()


async def test_a_retried_digest_whose_worker_stops_is_left_to_the_next_start(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        errors: list[Exception] = [WorkerStopped("the worker died"), OSError(28, "No space left on device")]
        asked = failing_make(monkeypatch, service, lambda period: errors.pop() if errors else None)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING
        # Retried once; its worker dies then: not retried again (the digest may be what kills it).
        assert await bot.jobs.retry_pending_digests() == 0
        assert rows(world, "SELECT status, error, files_dir FROM digests") == [("pending", WORKER_STOPPED, None)]
        assert await bot.jobs.retry_pending_digests() == 0
        assert len(asked) == 2
        await bot.jobs.catch_up()
        assert len(digest_posts(world, digest_channel)) == 1


async def test_one_kept_digest_that_fails_holds_back_neither_the_others_nor_the_catch_up(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        # Two digests kept undelivered while the bot was down; the last ended two weeks ago, so one is due too. The
        # digest channel was set up before all that (a schedule's time before it was set up is not caught up).
        now = datetime.now(UTC)
        with sqlite3.connect(db(world)) as conn:
            conn.execute(
                "UPDATE audit_log SET created_at = ? WHERE action = 'settings.update'",
                (sqlite_timestamp(now - timedelta(days=35)),),
            )
        kept = []
        for weeks in (4, 3):
            start, end = now - timedelta(days=7 * weeks), now - timedelta(days=7 * (weeks - 1))
            claimed = await bot.storage.claim_digest(world.guild_id, sqlite_timestamp(start), sqlite_timestamp(end))
            assert claimed is not None
            await bot.storage.update_digest(claimed.digest_id, DigestStatus.UNDELIVERED, error="the channel is gone")
            kept.append(claimed)
        broken = kept[0].period_start
        failing_make(
            monkeypatch,
            service,
            lambda period: RuntimeError("a bug") if sqlite_timestamp(period.start) == broken else None,
        )
        await bot.jobs.catch_up()
        statuses = dict(rows(world, "SELECT digest_id, status FROM digests"))
        assert statuses.pop(kept[0].digest_id) == "undelivered"
        assert statuses == {kept[1].digest_id: "sent", kept[1].digest_id + 1: "sent"}, "the other kept one, then due"
        assert len(digest_posts(world, digest_channel)) == 2
        await eventually(lambda: notes(world, log_channel, "could not be made"), what="the moderators' note")


async def test_kept_digests_that_cannot_be_sent_do_not_stop_the_catch_up(world, run_bot, digest_channel, monkeypatch):
    # The last digest ended three weeks ago: one is due at start, whatever happens to the kept ones.
    await sent_before(world, datetime.now(UTC) - timedelta(days=21), {"digest_channel_id": digest_channel})
    async with run_bot() as bot:
        assert bot.jobs is not None
        sent = lambda: rows(world, "SELECT count(*) FROM digests WHERE status = 'sent'")[0][0]  # noqa: E731
        await eventually(lambda: sent() == 2, 90, "the start's own catch-up")
        with sqlite3.connect(db(world)) as conn:  # as if it had not been made: due again at the next catch-up
            conn.execute("DELETE FROM digests WHERE digest_id = 2")

        async def resend_kept(guild_id: int, *, retrying: bool = False) -> int:
            raise RuntimeError("the database is locked")

        monkeypatch.setattr(bot.jobs.digests, "resend_kept", resend_kept)
        await bot.jobs.catch_up()
        assert len(digest_posts(world, digest_channel)) == 2
        assert sent() == 2


# 3. Settings changed while a digest is made are those it is delivered by.


async def digest_waiting_for_an_answer(world, bot: CultureBot) -> asyncio.Task[DigestRecord | None]:
    """A digest due while an answer asked in its period is still being written (it waits for the answer)."""
    assert bot.jobs is not None
    world.model.script(Reply("An answer that takes a while to write.", ttft=4))
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention("A slow question?"))
    await eventually(lambda: ("streaming",) in rows(world, "SELECT outcome FROM answers"), what="streaming")
    making = asyncio.ensure_future(bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK))
    await eventually(lambda: rows(world, "SELECT count(*) FROM digests") == [(1,)], what="the digest claimed")
    return making


async def test_a_digest_moved_to_another_channel_while_being_made_goes_there(world, run_bot, moderator, digest_channel):
    team_only = int(world.standin.add_channel(world.guild_id, "research-team")["id"])
    world.standin.set_permission_overwrite(team_only, world.guild_id, deny=1 << 10)  # @everyone cannot view
    world.standin.set_permission_overwrite(team_only, world.standin.bot_user_id, allow=1 << 10, type=1)
    async with run_bot(cooldown=0) as bot:
        await with_log_and_digest_channels(world, moderator, digest_channel)
        making = await digest_waiting_for_an_answer(world, bot)
        moved = await run(world, moderator, "digest channel", {"channel": team_only})
        await eventually(
            lambda: rows(world, "SELECT digest_channel_id FROM guild_settings") == [(team_only,)], what="moved"
        )
        assert not making.done(), "the digest was still waiting for the answer"
        record = await making
        assert record is not None and record.status is DigestStatus.SENT and record.channel_id == team_only
        assert digest_posts(world, digest_channel) == [], "not posted where everyone reads it"
        assert len(digest_posts(world, team_only)) == 1
        await reply_text(world, moved)


async def test_a_digest_switched_off_while_being_made_is_kept(world, run_bot, moderator, digest_channel):
    async with run_bot(cooldown=0) as bot:
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        making = await digest_waiting_for_an_answer(world, bot)
        assert "Digests are off" in await reply_text(world, await run(world, moderator, "digest off"))
        assert not making.done(), "the digest was still waiting for the answer"
        record = await making
        assert record is not None and record.status is DigestStatus.UNDELIVERED and record.error == DIGESTS_OFF
        assert digest_posts(world, digest_channel) == []
        [note] = await eventually(lambda: notes(world, log_channel, "switched off"), what="the moderators' note")
        assert "/digest schedule" in note
        # Still kept while they are off, even when the channel is chosen again.
        reply = await run(world, moderator, "digest channel", {"channel": digest_channel})
        assert "Sent" not in await reply_text(world, reply)
        assert digest_posts(world, digest_channel) == []
        # Switched on again: sent.
        reply = await run(world, moderator, "digest schedule", {"when": "weekly"})
        assert "Sent the 1 digest kept" in await reply_text(world, reply)
        assert len(digest_posts(world, digest_channel)) == 1


async def test_a_kept_digest_moved_to_another_channel_while_being_made_again_goes_there(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    team_only = int(world.standin.add_channel(world.guild_id, "research-team")["id"])
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        world.standin.fail_next("POST", rf"/channels/{digest_channel}/messages$", status=503)
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.status is DigestStatus.PENDING
        service._made_files.clear()  # as after a restart: the files made are not known, and it is made again

        real = service.make_files

        async def make_files(guild_id, period, directory, **options):
            # The moderators choose another channel while the kept digest is being made again.
            changes = {"digest_channel_id": team_only}
            await bot.storage.update_guild_settings(guild_id, moderator, changes, detail="digest: moved")
            return await real(guild_id, period, directory, **options)

        monkeypatch.setattr(service, "make_files", make_files)
        assert await bot.jobs.retry_pending_digests() == 1
        assert digest_posts(world, digest_channel) == []
        assert len(digest_posts(world, team_only)) == 1


# 4. Exports of dates at the ends of the calendar say so.


async def test_research_export_of_dates_out_of_range_says_which_dates_work(world, run_bot, moderator):
    researcher_role = world.standin.add_role(world.guild_id, "Researchers")
    researcher = int(world.standin.add_member(world.guild_id, "dr-lan", roles=[researcher_role["id"]])["user"]["id"])
    async with run_bot(cooldown=0):
        await rated_answers(world, count=1)
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researcher_role["id"]}))
        for start, end in [
            ("0001-01-01", "0001-01-07"),
            ("9999-12-25", "9999-12-31"),
            ("0002-01-01", "0011-12-31"),  # ten years: the ten before, compared with, do not fit
        ]:
            reply = await run(world, researcher, "research-export", {"start": start, "end": end})
            text = await reply_text(world, reply)
            assert "between 0002 and 9998" in text, (start, end, text)


async def test_a_digest_that_may_have_been_posted_is_not_posted_again_after_being_switched_off(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        with monkeypatch.context() as patched:  # posted, then the bot dies before recording it
            crash_before_recording_sent(patched, bot.storage)
            with pytest.raises(RuntimeError):
                await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        service._made_files.clear()  # the process died: what it held in memory went with it
        made = service.make_files

        async def switched_off_meanwhile(guild_id, period, directory, **options):
            await bot.storage.update_guild_settings(guild_id, moderator, {"digest_enabled": 0}, detail="digest: off")
            return await made(guild_id, period, directory, **options)

        with monkeypatch.context() as patched:
            patched.setattr(service, "make_files", switched_off_meanwhile)
            await bot.jobs.retry_pending_digests()
        assert rows(world, "SELECT status FROM digests") == [("undelivered",)]
        await reply_text(world, await run(world, moderator, "digest schedule", {"when": "weekly"}))
        assert len(digest_posts(world, digest_channel)) == 1, "found in the channel, not posted twice"
        assert rows(world, "SELECT status FROM digests") == [("sent",)]


async def test_digest_now_posts_while_scheduled_digests_are_off(world, run_bot, moderator, digest_channel):
    async with run_bot(cooldown=0):
        await with_log_and_digest_channels(world, moderator, digest_channel)
        await reply_text(world, await run(world, moderator, "digest off"))
        await reply_text(world, await run(world, moderator, "digest now"))
        await eventually(lambda: len(digest_posts(world, digest_channel)) == 1, what="the digest asked for")
        assert rows(world, "SELECT status FROM digests") == [("sent",)]


async def test_a_long_error_is_shortened_in_the_record_and_told_to_the_moderators(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        failing_make(monkeypatch, service, lambda period: ValueError("bad value: " + "x" * 1900))
        record = await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert record is not None and record.error is not None and len(record.error) < 400
        [note] = await eventually(lambda: notes(world, log_channel, "could not be made"), what="the note")
        assert len(note) <= 2000 and "ValueError: bad value: xxx" in note


async def test_a_moderators_command_does_not_remake_a_digest_whose_worker_died(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        asked = failing_make(monkeypatch, service, lambda period: WorkerStopped("the worker died"))
        with pytest.raises(WorkerStopped):
            await service.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert rows(world, "SELECT status, error FROM digests") == [("pending", WORKER_STOPPED)]
        await reply_text(world, await run(world, moderator, "digest schedule", {"when": "weekly"}))
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        assert len(asked) == 1, "left to the next start"
        await bot.jobs.catch_up()
        assert len(asked) == 2


@pytest.mark.parametrize("status", [500, 504])
async def test_a_digest_whose_post_fails_after_it_was_made_is_posted_once(
    world, run_bot, moderator, digest_channel, status
):
    """Discord made the message, then answered 500 or 504: discord.py retries those by itself, before the bot can
    look for the post, with the post's nonce and `enforce_nonce`, so Discord returns the first post (the stand-in
    did not model this, and posted the digest twice)."""
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        await with_log_and_digest_channels(world, moderator, digest_channel)
        failed = world.standin.fail_after("POST", rf"/channels/{digest_channel}/messages$", status=status)
        record = await bot.jobs.digests.run_due(world.guild_id, now=datetime.now(UTC) + NEXT_WEEK)
        assert failed.hits == 1
        assert record is not None and record.status is DigestStatus.SENT
        [post] = digest_posts(world, digest_channel)
        assert rows(world, "SELECT status, message_id FROM digests") == [("sent", post.id)]


async def test_digests_kept_while_the_bot_lacks_a_permission_are_not_remade_and_retold_every_week(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    """Each scheduled run remade every digest kept undelivered and told the moderators again about each one that
    failed: four weeks without Attach Files made ten notes instead of four."""
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=ATTACH_FILES, type=1)
        made = failing_make(monkeypatch, service, lambda period: None)
        now = datetime.now(UTC)
        for week in range(1, 5):
            await service.run_scheduled(world.guild_id, now=now + week * NEXT_WEEK)
        assert len(made) == 4, "each week's digest made once"
        assert len(notes(world, log_channel, "could not be posted")) == 4
        assert rows(world, "SELECT DISTINCT status FROM digests") == [("undelivered",)]
        # Once the bot may attach files again, all four are sent, oldest first.
        world.standin.set_permission_overwrite(digest_channel, world.standin.bot_user_id, deny=0, type=1)
        await eventually(lambda: len(digest_posts(world, digest_channel)) == 4, what="the kept digests sent")


async def test_a_digest_whose_worker_died_is_told_to_the_moderators_once(
    world, run_bot, moderator, digest_channel, monkeypatch
):
    """Only the log said so: the moderators heard nothing, and `/digest now` answered "Something went wrong"; the
    digest waited silently for the bot's next start, perhaps days."""
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        log_channel = await with_log_and_digest_channels(world, moderator, digest_channel)
        asked = failing_make(monkeypatch, service, lambda period: WorkerStopped("the worker died"))
        reply = await reply_text(world, await run(world, moderator, "digest now"))
        assert reply.startswith("The digest could not be made: the process making it stopped before finishing")
        assert "made again at the bot's next start" in reply
        [note] = await eventually(lambda: notes(world, log_channel, "could not be made"), what="the note")
        assert "the process making it stopped before finishing" in note and "next start" in note
        await bot.jobs.catch_up()  # as at the next start: made again, and its worker dies again
        assert asked == [asked[0]] * 2
        await asyncio.sleep(0.2)
        assert len(notes(world, log_channel, "could not be made")) == 1, "told once"


async def test_the_start_up_catch_up_does_not_send_for_a_time_the_new_schedule_had_before_it_was_set(
    world, run_bot, moderator, digest_channel
):
    """Set at 10:47 to run daily at 10:37, the schedule sends nothing until tomorrow 10:37; a restart at 10:48 sent
    a digest at once, for 10:37, a time that passed while the bot was running on the old schedule."""
    now = datetime.now(UTC)
    await sent_before(world, now - timedelta(days=2), {"digest_channel_id": digest_channel})
    earlier = now - timedelta(minutes=10)
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        cron = f"{earlier.minute} {earlier.hour} * * *"
        await reply_text(world, await run(world, moderator, "digest schedule", {"when": cron, "timezone": "UTC"}))
        assert await service.run_due(world.guild_id, now=now + timedelta(minutes=1), first=False) is None
        assert digest_posts(world, digest_channel) == []
        # Tomorrow's time, missed while the bot was down, is caught up at the start as ever.
        record = await service.run_due(world.guild_id, now=now + timedelta(days=1), first=False)
        assert record is not None and record.status is DigestStatus.SENT
        assert len(digest_posts(world, digest_channel)) == 1


async def test_research_export_of_an_early_year_holds_nothing_from_today_and_odd_date_forms_are_refused(
    world, run_bot, moderator
):
    """Years below 1000 were stored unpadded ("200-01-01T…"), which sorts after "2026": an export of 0200 to 0209
    held today's answers. And 20261102 or 2026-W45-1 were taken as dates."""
    researcher_role = world.standin.add_role(world.guild_id, "Researchers")
    researcher = int(world.standin.add_member(world.guild_id, "dr-lan", roles=[researcher_role["id"]])["user"]["id"])
    async with run_bot(cooldown=0):
        await rated_answers(world, count=1)
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researcher_role["id"]}))
        reply = await run(world, researcher, "research-export", {"start": "0200-01-01", "end": "0209-12-31"})
        followup = await world.standin.wait_for_followup(reply.id, timeout=60)
        with zipfile.ZipFile(io.BytesIO(followup.attachment("data.zip").data)) as data:
            answers = list(csv.DictReader(io.StringIO(data.read("answers.csv").decode())))
        assert answers == []
        for typed in ("20261102", "2026-W45-1"):
            reply = await run(world, researcher, "research-export", {"start": typed, "end": "2026-11-09"})
            assert f"`{typed}` is not a date for `start`; write it as YYYY-MM-DD" in await reply_text(world, reply)


async def test_a_scheduled_digest_just_after_digest_now_is_left_to_the_next(world, run_bot, moderator, digest_channel):
    """/digest now two minutes before an hourly schedule's time: the scheduled digest then covered those two
    minutes, a near-empty digest right after the one asked for."""
    async with run_bot(cooldown=0) as bot:
        assert bot.jobs is not None
        service = bot.jobs.digests
        await with_log_and_digest_channels(world, moderator, digest_channel)
        now = datetime.now(UTC)
        soon = now + timedelta(minutes=2)
        cron = f"{soon.minute} * * * *"
        await reply_text(world, await run(world, moderator, "digest schedule", {"when": cron, "timezone": "UTC"}))
        asked = await service.run_now(world.guild_id, now=now)
        assert asked is not None and asked.status is DigestStatus.SENT
        assert await service.run_due(world.guild_id, now=soon + timedelta(minutes=1)) is None
        assert len(digest_posts(world, digest_channel)) == 1
        # The next time covers everything since /digest now.
        record = await service.run_due(world.guild_id, now=soon + timedelta(hours=1, minutes=1))
        assert record is not None and record.status is DigestStatus.SENT
        assert record.period_start == asked.period_end
        assert len(digest_posts(world, digest_channel)) == 2
