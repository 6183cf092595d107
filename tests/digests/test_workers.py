"""Digests made in worker processes: the same digest as in-process, crashes, shutdown; the rows they read."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import resource
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import astuple, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import discord
import pytest

from bot.collector import YOUNG_THRESHOLD
from bot.digests import chart
from bot.digests.model import Digest, TimePoint
from bot.digests.offline import offline_digest
from bot.digests.report import DigestFiles, write_digest_files
from bot.digests.rows import DigestRows
from bot.digests.schedule import Period
from bot.digests.service import DigestService, period_rows
from bot.digests.workers import (
    DigestJob,
    DigestWorkers,
    MadeDigest,
    WorkerStopped,
    make_digest,
)
from bot.storage import (
    CommentSource,
    ConsentLevel,
    DigestStatus,
    NewAnswer,
    NewComment,
    NewScopeVersion,
    Outcome,
    Rating,
    RatingSource,
    ScopeSource,
    SqliteStorage,
    sqlite_timestamp,
)
from bot.storage.records import AnswerResult
from bot.storage.sqlite.digests import read_digest_periods
from tests.helpers import eventually

GUILD = 7001
CRASHING_GUILD = 666


# Module-level, so that spawned workers can import them by name.
def crash(job: DigestJob) -> MadeDigest:
    os._exit(3)


def crash_for_one_server(job: DigestJob) -> MadeDigest:
    if job.guild_id == CRASHING_GUILD:
        os._exit(3)
    return make_digest(job)


def sleep_long(job: DigestJob) -> MadeDigest:
    job.directory.mkdir(parents=True)
    (job.directory / "pid").write_text(str(os.getpid()))
    time.sleep(60)
    return make_digest(job)


def page_faults_of_reused_blocks(job: DigestJob) -> MadeDigest:
    """Page faults while 8 MB blocks (like the exports' joined texts) are allocated and freed again and again;
    reported as the read time, the only float a MadeDigest can carry back without a digest."""
    bytearray(8 * 1024 * 1024)  # allocated and freed once before counting
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        bytearray(8 * 1024 * 1024)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return MadeDigest(cast(DigestFiles, None), float(faults), 0.0, 0.0, os.getpid())


def collector_settings(job: DigestJob) -> MadeDigest:
    """The worker's frozen objects and its youngest generation's threshold, carried back as two timings."""
    return MadeDigest(cast(DigestFiles, None), gc.get_freeze_count(), gc.get_threshold()[0], 0.0, os.getpid())


class NoChannels:
    """A Discord client that knows no channel or server (a digest can only be kept as undelivered)."""

    def get_channel(self, channel_id: int) -> None:
        return None

    def get_guild(self, guild_id: int) -> None:
        return None


async def stored_server(db: Path, guild_id: int = GUILD) -> SqliteStorage:
    """A migrated database with one server's answers, ratings, reasons, comments and consent decisions."""
    storage = await SqliteStorage.open(db)
    await storage.migrate()
    await storage.ensure_guild(guild_id, "Kopi Talk")
    await storage.set_consent(guild_id, "declined-member", ConsentLevel.DECLINED, "1.1")
    for index in range(12):
        answer_id = await storage.start_answer(
            NewAnswer(
                guild_id=guild_id,
                channel_id=100 + index % 3,
                question_message_id=None,
                asker_hash=f"asker-{index % 4}",
                question=f"How do I greet my manager, take {index}?",
                model="fake-model",
                cues={"source": "rules", "language": ["en", "id", None][index % 3], "setting": "workplace"},
            )
        )
        await storage.finish_answer(
            answer_id,
            AnswerResult(f"It depends ({index}).", Outcome.OK, tokens_in=10, tokens_estimated=index % 2 == 0),
        )
        for rater in range(1 + index % 4):
            value = 1 + (index + rater) % 3
            await storage.put_rating(Rating(answer_id, f"rater-{rater}", value, 3, rater == 0, RatingSource.BUTTON))
            if value == 1:
                await storage.set_reasons(answer_id, f"rater-{rater}", ["too generic", "stereotyped"])
            words = ["formal", "greeting", "sapaan", "atasan", "kantor", "polite", "boss", "register"]
            text = " ".join(words[(index + rater + k) % len(words)] for k in range(5))
            await storage.add_comment(
                NewComment(answer_id, f"rater-{rater}", text, CommentSource.MODAL, rater % 2 == 0)
            )
    return storage


def this_week() -> Period:
    end = datetime.now(UTC) + timedelta(minutes=1)
    return Period(end - timedelta(days=7), end)


def a_week_on() -> datetime:
    """A moment whose latest weekly scheduled time falls after now, so its due week holds what was just stored.

    Eight days on would not do: between Sunday 09:00 and Monday 09:00 the latest Monday 09:00 eight days on is more
    than a week away, and its week starts after the data."""
    return datetime.now(UTC) + timedelta(days=7)


def job_for(storage: SqliteStorage, period: Period, directory: Path, guild_id: int = GUILD) -> DigestJob:
    return DigestJob(
        storage.path,
        guild_id,
        sqlite_timestamp(period.start),
        sqlite_timestamp(period.end),
        sqlite_timestamp(period.start - (period.end - period.start)),
        directory,
    )


async def test_read_digest_periods_reads_what_the_storage_method_does(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    try:
        period = this_week()
        start, end = sqlite_timestamp(period.start), sqlite_timestamp(period.end)
        previous_start = sqlite_timestamp(period.start - timedelta(days=7))
        current, previous = read_digest_periods(storage.path, GUILD, start, end, previous_start)
        assert current == await storage.digest_rows(GUILD, start, end)
        assert len(current.answers) == 12 and len(current.ratings) == 30 and current.comments and current.reasons
        assert {answer.language for answer in current.answers} == {"en", "id", None}
        assert current.declined == 1 and current.guild_name == "Kopi Talk"
        assert all(isinstance(rating.is_asker, bool) for rating in current.ratings)
        # Token counts the bot estimated (the model server reported none) are marked, as booleans.
        assert [answer.tokens_estimated for answer in current.answers] == [index % 2 == 0 for index in range(12)]
        assert {type(answer.tokens_estimated) for answer in current.answers} == {bool}
        # The earlier period, only compared with: its answers come without their texts, and with the feedback
        # they received up to this period's end.
        expected = await storage.digest_rows(GUILD, previous_start, start, feedback_before=end)
        assert previous == replace(expected, answers=[replace(a, question="", answer="") for a in expected.answers])
        assert previous.guild_name == "Kopi Talk" and previous.answers == [] and previous.declined == 0
    finally:
        await storage.close()


async def test_rows_know_the_scope_version_in_use_at_the_periods_end(tmp_path: Path):
    storage = await SqliteStorage.open(tmp_path / "bot.sqlite3")
    try:
        await storage.migrate()
        await storage.ensure_guild(GUILD, "Kopi Talk")
        made = {1: "2026-01-05T10:00:00.000Z", 2: "2026-01-10T10:00:00.000Z", 3: "2026-01-20T10:00:00.000Z"}
        for number in (1, 2, 3):
            if number == 3:  # the scope was cleared in between
                assert await storage.clear_scope(GUILD, 1) is not None
            change = await storage.add_scope_version(
                NewScopeVersion(GUILD, "kopi", "Kopi", f"version {number}", ScopeSource.UPLOAD, "test", 1)
            )
            assert change.version.number == number
        with sqlite3.connect(storage.path) as conn:
            for number, created in made.items():
                conn.execute("UPDATE scope_versions SET created_at = ? WHERE number = ?", (created, number))
            conn.execute("UPDATE audit_log SET created_at = '2026-01-15T10:00:00.000Z' WHERE action = 'scope.clear'")

        async def in_use(end: str) -> int | None:
            return (await storage.digest_rows(GUILD, "2026-01-01T00:00:00.000Z", end)).scope_version

        assert await in_use("2026-01-05T10:00:00.000Z") is None  # v1 came at the end: not in use before it
        assert await in_use("2026-01-08T00:00:00.000Z") == 1
        assert await in_use("2026-01-12T00:00:00.000Z") == 2
        assert await in_use("2026-01-16T00:00:00.000Z") is None  # cleared after v2
        assert await in_use("2026-01-21T00:00:00.000Z") == 3
        current, previous = read_digest_periods(
            storage.path, GUILD, "2026-01-08T00:00:00.000Z", "2026-01-12T00:00:00.000Z", "2026-01-04T00:00:00.000Z"
        )
        assert (current.scope_version, previous.scope_version) == (2, 1)
    finally:
        await storage.close()


async def test_feedback_after_a_period_ends_counts_in_the_next_digests_comparison(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    try:
        cut = datetime.now(UTC)
        await asyncio.sleep(0.01)  # stored times have millisecond resolution
        everything = await storage.digest_rows(GUILD, "2000-01-01T00:00:00.000Z", sqlite_timestamp(cut))
        first = everything.answers[0].answer_id
        # After the cut: a new rating with a reason, and a changed one (rater-0 had rated it 1, with reasons).
        await storage.put_rating(Rating(first, "late-rater", 3, 3, False, RatingSource.BUTTON))
        assert await storage.set_reasons(first, "late-rater", ["useful"])
        await storage.put_rating(Rating(first, "rater-0", 3, 3, True, RatingSource.BUTTON))
        await storage.add_comment(NewComment(first, "late-rater", "came back to say thanks", CommentSource.MODAL, True))

        ended = Period(cut - timedelta(days=7), cut)  # the digest made at the cut: none of the late feedback
        rows, _ = await period_rows(storage, GUILD, ended)
        assert {rating.rater_hash for rating in rows.ratings if rating.answer_id == first} == set()
        assert not [reason for reason in rows.reasons if reason.answer_id == first], "no reason without its rating"
        assert "came back to say thanks" not in {comment.text for comment in rows.comments}

        # The next digest compares with that period as known at its own end: the late feedback is there.
        following = Period(cut, cut + timedelta(days=7))
        _, previous = await period_rows(storage, GUILD, following)
        late = {rating.rater_hash: rating.value for rating in previous.ratings if rating.answer_id == first}
        assert late == {"late-rater": 3, "rater-0": 3}
        # rater-0's reasons were given for the rating of 1: they went when it changed (migration 0011).
        assert {(reason.rater_hash, reason.tag) for reason in previous.reasons if reason.answer_id == first} == {
            ("late-rater", "useful"),
        }
        assert "came back to say thanks" in {comment.text for comment in previous.comments}
        start, end = sqlite_timestamp(following.start), sqlite_timestamp(following.end)
        _, read = read_digest_periods(storage.path, GUILD, start, end, sqlite_timestamp(ended.start))
        assert read == replace(previous, answers=[replace(a, question="", answer="") for a in previous.answers])
    finally:
        await storage.close()


async def test_ratings_and_comments_are_read_as_stored(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    try:
        period = this_week()
        start, end = sqlite_timestamp(period.start), sqlite_timestamp(period.end)
        [answer_id, *_] = [row.answer_id for row in (await storage.digest_rows(GUILD, start, end)).answers]
        # A reaction, and a rating changed a moment later (its update time is no longer its creation time).
        await storage.put_rating(Rating(answer_id, "reacting", 2, 3, False, RatingSource.REACTION))
        await storage.put_rating(Rating(answer_id, "rater-0", 3, 3, True, RatingSource.BUTTON))
        current, _ = read_digest_periods(storage.path, GUILD, start, end, sqlite_timestamp(period.start))
        with sqlite3.connect(storage.path) as conn:
            stored = conn.execute(
                "SELECT answer_id, rater_hash, value, scale_size, is_asker, source, created_at, updated_at "
                "FROM ratings "
                "ORDER BY answer_id, rater_hash"
            ).fetchall()
            comments = conn.execute(
                "SELECT comment_id, answer_id, rater_hash, text, quotable, created_at FROM comments ORDER BY comment_id"
            ).fetchall()
        read = [astuple(rating) for rating in current.ratings]
        assert read == [(*row[:4], bool(row[4]), *row[5:]) for row in stored]
        assert {row[5] for row in read} == {"reaction", "button"} and any(row[6] != row[7] for row in read)
        assert {type(row[4]) for row in read} == {bool} and {row[4] for row in read} == {True, False}
        assert [astuple(comment) for comment in current.comments] == [
            (*row[:4], bool(row[4]), row[5]) for row in comments
        ]
        assert {type(comment.quotable) for comment in current.comments} == {bool}
    finally:
        await storage.close()


async def test_the_earlier_period_is_read_with_its_answers_but_not_their_texts(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    try:
        now = datetime.now(UTC) + timedelta(minutes=1)
        start, end = sqlite_timestamp(now), sqlite_timestamp(now + timedelta(days=7))
        _, previous = read_digest_periods(storage.path, GUILD, start, end, sqlite_timestamp(now - timedelta(days=7)))
        assert len(previous.answers) == 12 and len(previous.ratings) == 30 and len(previous.comments) == 30
        assert {(answer.question, answer.answer) for answer in previous.answers} == {("", "")}
        assert previous.answers[0].language == "en" and previous.answers[0].setting == "workplace"
    finally:
        await storage.close()


async def test_a_digest_made_in_a_worker_is_the_one_made_in_process(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    workers = DigestWorkers(1)
    try:
        period = this_week()
        made = await workers.make(job_for(storage, period, tmp_path / "worker"))
        current, previous = await period_rows(storage, GUILD, period)
        here = write_digest_files(current, previous, tmp_path / "here")
        assert made.files.digest == here.digest
        assert made.files.digest.current.denominators.ratings == 30
        for ours, theirs in [
            (made.files.markdown, here.markdown),
            (made.files.html, here.html),
            (made.files.chart, here.chart),
            (made.files.json, here.json),
            *zip(made.files.exports, here.exports, strict=True),
        ]:
            assert ours.name == theirs.name and ours.parent == tmp_path / "worker"
            assert ours.read_bytes() == theirs.read_bytes()
        assert made.worker != os.getpid()
        assert min(made.read_seconds, made.statistics_seconds, made.files_seconds) > 0
    finally:
        await workers.close(5)
        await storage.close()


async def test_a_crashing_worker_leaves_the_digest_pending_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    await storage.update_guild_settings(GUILD, 1, {"digest_channel_id": 555}, detail="test")
    crashing = DigestWorkers(1, target=crash)
    service = DigestService(cast(discord.Client, NoChannels()), storage, tmp_path / "digests", crashing)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(WorkerStopped):
            await service.run_due(GUILD, now=a_week_on())
        [record] = await storage.digests(GUILD)
        assert record.status is DigestStatus.PENDING and record.files_dir is None
        assert f"server {GUILD}'s digest was being made; trying it alone" in caplog.text
        assert f"digest {record.digest_id} (server {GUILD}" in caplog.text and "stays pending" in caplog.text
        # Made later, as the start-up catch-up does, by workers that work (kept: this client knows no channel).
        service.workers = DigestWorkers(1)
        assert await service.resend_kept(GUILD, at_start=True) == 0
        [record] = await storage.digests(GUILD)
        assert record.status is DigestStatus.UNDELIVERED and record.files_dir is not None
        assert (Path(record.files_dir) / "chart.png").is_file()
        await service.wait_idle(1)
    finally:
        await crashing.close(5)
        await service.close()
        await storage.close()


async def test_one_crashing_digest_does_not_take_the_others_with_it(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    workers = DigestWorkers(2, target=crash_for_one_server)
    try:
        period = this_week()
        jobs = [job_for(storage, period, tmp_path / "crashing", CRASHING_GUILD)]
        jobs += [job_for(storage, period, tmp_path / f"fine-{index}") for index in range(3)]
        results = await asyncio.gather(*(workers.make(job) for job in jobs), return_exceptions=True)
        assert isinstance(results[0], WorkerStopped)
        assert all(isinstance(result, MadeDigest) for result in results[1:])
        # The pool was replaced: later digests are made as usual.
        assert isinstance(await workers.make(jobs[1]), MadeDigest)
    finally:
        await workers.close(5)
        await storage.close()


async def test_close_ends_idle_workers_and_stops_busy_ones(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    try:
        idle = DigestWorkers(2)
        pids = await idle.start()
        assert len(pids) == 2 and os.getpid() not in pids
        started = time.monotonic()
        await idle.close(5)
        assert time.monotonic() - started < 5
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # gone and reaped

        busy = DigestWorkers(1, target=sleep_long)
        making = asyncio.ensure_future(busy.make(job_for(storage, this_week(), tmp_path / "slow")))
        pid_file = tmp_path / "slow" / "pid"
        # Its content, not only the file: the worker creates the file, then writes its pid.
        await eventually(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=30, what="the slow digest")
        pid = int(pid_file.read_text())
        started = time.monotonic()
        await busy.close(0.5)
        assert time.monotonic() - started < 10
        with pytest.raises(WorkerStopped):
            await making
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        with pytest.raises(WorkerStopped, match="closed"):
            await busy.make(job_for(storage, this_week(), tmp_path / "late"))
    finally:
        await storage.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings")
async def test_workers_reuse_the_memory_a_digest_freed(tmp_path: Path):
    # By default glibc hands such blocks back to the kernel when they are freed (about 2,000 faults here).
    workers = DigestWorkers(1, target=page_faults_of_reused_blocks)
    try:
        made = await workers.make(DigestJob(tmp_path / "unused.sqlite3", GUILD, "", "", "", tmp_path))
        assert made.read_seconds < 100  # the page faults of five 8 MB blocks: not 10,000
    finally:
        await workers.close(5)


async def test_workers_leave_what_they_imported_to_the_garbage_collector_less_often(tmp_path: Path):
    workers = DigestWorkers(1, target=collector_settings)
    try:
        made = await workers.make(DigestJob(tmp_path / "unused.sqlite3", GUILD, "", "", "", tmp_path))
        assert made.read_seconds > 10_000  # numpy, matplotlib and the digest code, frozen
        assert made.statistics_seconds == YOUNG_THRESHOLD
    finally:
        await workers.close(5)


async def test_a_digest_waits_a_bounded_time_for_answers_still_being_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    await storage.update_guild_settings(GUILD, 1, {"digest_channel_id": 555}, detail="test")
    stuck = await storage.start_answer(
        NewAnswer(
            guild_id=GUILD,
            channel_id=100,
            question_message_id=None,
            asker_hash="asker-0",
            question="Still being written?",
            model="fake-model",
            cues={"source": "rules"},
        )
    )
    period = this_week()
    start, end = sqlite_timestamp(period.start), sqlite_timestamp(period.end)
    assert await storage.answers_being_written(GUILD, start, end) == 1
    assert await storage.answers_being_written(GUILD + 1, start, end) == 0
    assert await storage.answers_being_written(GUILD, end, sqlite_timestamp(period.end + timedelta(days=1))) == 0
    service = DigestService(
        cast(discord.Client, NoChannels()), storage, tmp_path / "digests", DigestWorkers(1), answers_settle_within=0.6
    )
    try:
        began = time.monotonic()
        with caplog.at_level(logging.WARNING):
            record = await service.run_due(GUILD, now=a_week_on())
        # It waited its limit for the stuck answer, then made the digest without it (kept: no channel here).
        assert time.monotonic() - began >= 0.6
        assert record is not None and record.status is DigestStatus.UNDELIVERED
        assert f"server {GUILD}'s digest" in caplog.text and "leaves out 1 answer(s) still being written" in caplog.text
        digest = json.loads((Path(str(record.files_dir)) / "digest.json").read_text())
        assert digest["current"]["denominators"]["answers"] == 12
        await storage.finish_answer(stuck, AnswerResult("Done.", Outcome.OK))
    finally:
        await service.close()
        await storage.close()


async def test_digest_folders_past_the_retention_period_are_pruned(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    await storage.update_guild_settings(GUILD, 1, {"retention_days": 30}, detail="test")
    root = tmp_path / "digests"
    old, recent = root / str(GUILD) / "old-digest-1", root / str(GUILD) / "recent-digest-2"
    unknown_server = root / "555" / "digest-3"  # no settings row: the default retention of 180 days
    foreign = root / "notes"  # not a server's folder: left alone
    for folder in (old, recent, unknown_server, foreign):
        folder.mkdir(parents=True)
        (folder / "report.md").write_text("text")
    now = datetime.now(UTC)
    stamp = (now - timedelta(days=31)).timestamp()
    os.utime(old, (stamp, stamp))
    os.utime(unknown_server, (stamp, stamp))
    service = DigestService(cast(discord.Client, NoChannels()), storage, root, DigestWorkers(1))
    try:
        assert await service.prune_files(now) == 1
        assert not old.exists() and recent.is_dir() and unknown_server.is_dir() and foreign.is_dir()
        assert await service.prune_files(now + timedelta(days=200)) == 2
        assert not recent.exists() and not unknown_server.exists() and foreign.is_dir()
    finally:
        await service.close()
        await storage.close()


async def test_the_retry_sends_made_digests_and_leaves_unmade_ones_to_the_next_start(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    await storage.update_guild_settings(GUILD, 1, {"digest_channel_id": 555}, detail="test")
    end = datetime.now(UTC)
    unmade = await storage.claim_digest(
        GUILD, sqlite_timestamp(end - timedelta(days=14)), sqlite_timestamp(end - timedelta(days=7))
    )
    made = await storage.claim_digest(GUILD, sqlite_timestamp(end - timedelta(days=7)), sqlite_timestamp(end))
    assert unmade is not None and made is not None
    folder = tmp_path / "digests" / "made"
    await storage.update_digest(
        made.digest_id, DigestStatus.PENDING, files_dir=str(folder), error="Discord failed (503)"
    )
    service = DigestService(cast(discord.Client, NoChannels()), storage, tmp_path / "digests", DigestWorkers(1))
    try:
        assert await service.retry_pending(GUILD) == 0  # this client knows no channel: kept, as undelivered
        records = {record.digest_id: record for record in await storage.digests(GUILD)}
        assert records[made.digest_id].status is DigestStatus.UNDELIVERED
        assert records[unmade.digest_id].status is DigestStatus.PENDING and records[unmade.digest_id].files_dir is None
    finally:
        await service.close()
        await storage.close()


async def test_the_chart_of_two_long_periods_is_the_same_from_a_worker_and_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Two 28-day periods: the chart goes weekly. A worker drops the previous period's rows before drawing (for
    memory), the offline CLI keeps them; both draw the same points, the previous period's weeks included,
    from the digest."""
    storage = await stored_server(tmp_path / "bot.sqlite3")
    await storage.close()
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    period = Period(end - timedelta(days=28), end)
    first_day = period.start - timedelta(days=28)
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        answer_ids = [row[0] for row in conn.execute("SELECT answer_id FROM answers ORDER BY answer_id")]
        for index in range(56 * 2 - len(answer_ids)):  # two answers a day over both periods
            conn.execute(
                "INSERT INTO answers (guild_id, channel_id, asker_hash, question, answer, model, outcome, cues) "
                "SELECT guild_id, channel_id, asker_hash, question, answer, model, outcome, cues FROM answers "
                "WHERE answer_id = ?",
                (answer_ids[index % len(answer_ids)],),
            )
        answer_ids = [row[0] for row in conn.execute("SELECT answer_id FROM answers ORDER BY answer_id")]
        for index, answer_id in enumerate(answer_ids):
            asked = first_day + timedelta(hours=12 * index + 1)
            rated = sqlite_timestamp(asked + timedelta(hours=1))
            conn.execute("UPDATE answers SET created_at = ? WHERE answer_id = ?", (sqlite_timestamp(asked), answer_id))
            conn.execute("DELETE FROM ratings WHERE answer_id = ?", (answer_id,))
            for rater in range(3):
                conn.execute(
                    "INSERT INTO ratings (answer_id, rater_hash, value, scale_size, is_asker, source, created_at, "
                    "updated_at) VALUES (?, ?, ?, 3, 0, 'button', ?, ?)",
                    (answer_id, f"rater-{rater}", 1 + (index * 7 + rater * 5 + index // 14) % 3, rated, rated),
                )
            conn.execute("UPDATE comments SET created_at = ? WHERE answer_id = ?", (rated, answer_id))

    drawn: list[tuple[list[TimePoint], bool]] = []  # each chart's line, as the chart computed it
    chart_points = chart._points

    def recorded(periods: Sequence[DigestRows], digest: Digest) -> tuple[list[TimePoint], bool]:
        drawn.append(points := chart_points(periods, digest))
        return points

    monkeypatch.setattr(chart, "_points", recorded)
    made = make_digest(job_for_period(tmp_path / "bot.sqlite3", period, tmp_path / "worker"))
    offline = await offline_digest(tmp_path / "bot.sqlite3", GUILD, period, tmp_path / "offline", feedback_before=end)

    assert made.files.digest == offline.files.digest
    assert made.files.digest.current.denominators.ratings == 56 * 3
    assert made.files.digest.previous is not None and made.files.digest.previous.denominators.ratings == 56 * 3
    (worker_points, worker_weekly), (offline_points, offline_weekly) = drawn
    assert worker_weekly and offline_weekly
    assert worker_points == offline_points
    weeks = [point.day for point in worker_points]
    # The previous period's weeks too: every ISO week an answer was asked in (8 when the first answer falls on a
    # Monday, as when this runs late on a Sunday, UTC; 9 otherwise).
    asked_weeks = {(first_day + timedelta(hours=12 * index + 1)).isocalendar()[:2] for index in range(56 * 2)}
    first_asked = (first_day + timedelta(hours=1)).date().isoformat()
    assert len(weeks) == len(asked_weeks) and weeks[0] <= first_asked
    assert sum(point.mean_fit.ratings for point in worker_points) == 2 * 56 * 3
    assert made.files.chart.read_bytes() == offline.files.chart.read_bytes()


def job_for_period(database: Path, period: Period, directory: Path) -> DigestJob:
    start, end = sqlite_timestamp(period.start), sqlite_timestamp(period.end)
    previous_start = sqlite_timestamp(period.start - (period.end - period.start))
    return DigestJob(database, GUILD, start, end, previous_start, directory)


async def test_a_deletion_that_fails_part_way_still_counts_as_one(tmp_path: Path):
    storage = await stored_server(tmp_path / "bot.sqlite3")
    await storage.update_guild_settings(GUILD, 1, {"digest_channel_id": 555}, detail="test")
    service = DigestService(cast(discord.Client, NoChannels()), storage, tmp_path / "digests", DigestWorkers(1))
    try:
        record = await service.run_due(GUILD, now=a_week_on())
        assert record is not None and record.files_dir is not None and Path(record.files_dir).is_dir()
        # The deletion may have been committed before the failure: the kept digest's files go all the same.
        with pytest.raises(RuntimeError):
            async with service.deleting() as deletion:
                raise RuntimeError("after the deletion was committed")
        assert deletion.deleted and deletion.discarding is not None
        assert await deletion.discarding == 1
        assert not Path(record.files_dir).exists()
    finally:
        await service.close()
        await storage.close()
