"""Making and delivering digests, exactly once per server and period.

`DigestService.run_due` is what the scheduler calls (and start-up, to catch up): it claims the period in
the database before making anything, writes the files to disk, then posts them. A digest whose channel
is gone or closed to the bot is kept on disk as undelivered, the moderators are told, and it is sent when
the channel works again. A digest left pending by a crash is checked against the channel's recent
messages before it is sent, so it is never posted twice. A digest whose making failed is kept pending with
the error, the moderators are told, and the retry job makes it again a few times (`MAKE_ATTEMPTS`). The
server's settings are read again just before posting: a digest switched off meanwhile is kept, one moved to
another channel goes there.

The CPU work runs in worker processes (workers.py), which read the rows from the database file themselves:
different servers' digests are made at the same time, one per worker; one server's run one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import shutil
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
from apscheduler.triggers.cron import CronTrigger

from bot.answers.safety import NO_PINGS
from bot.channel_access import DIGEST, bot_lacks
from bot.digests.deletion import Deletion
from bot.digests.formatting import reader_period
from bot.digests.report import DigestFiles, write_digest_files
from bot.digests.rows import DigestRows
from bot.digests.schedule import (
    Period,
    comparison_start,
    due_period,
    just_after,
    latest_run,
    parse_timezone,
    saved_trigger,
    schedule_problem,
)
from bot.digests.summary import digest_embed
from bot.digests.workers import DigestJob, DigestWorkers, WorkerStopped
from bot.errors import DISCORD_FAILURES, MESSAGE_LIMIT, UNREACHABLE, UserFacingError, shortened
from bot.storage import DigestRecord, DigestStatus, GuildSettings, Storage, sqlite_timestamp

log = logging.getLogger(__name__)

MARKER = "culturebot digest #{id}"  # in the embed footer: how a re-sent digest is recognised
# Channel messages checked for a digest posted before a crash: from its claim on, oldest first (it is posted
# minutes after), so a busy channel since does not hide it; the newest ones when the claim time is not known.
HISTORY_SCAN = 1000
HISTORY_SCAN_RECENT = 50
WORKERS_STOP_GRACE = 2.0  # seconds for idle workers to exit at shutdown (busy ones were waited for already)
ANSWERS_SETTLE_WITHIN = 270.0  # the longest an answer takes with default settings (Settings.answer_time_limit)
SETTLE_POLL = 0.5  # seconds between checks for answers still being written
RETRY_PENDING_EVERY_MINUTES = 10  # digests made but not posted (Discord failed) are tried again this often
# A digest whose making failed (disk full, database busy, a bug) is made again by the retry job this many times in
# all, then only at the next start: a fault that lasts is not repeated every 10 minutes. A worker that died
# (`WorkerStopped`) is not retried at all: the digest may be what kills it.
MAKE_ATTEMPTS = 6
ERROR_TEXT_LIMIT = 300  # characters of an exception's text kept in a digest's error and told to the moderators
MAKE_FAILED = "the digest could not be made (attempt {attempt}): {error}"
_MAKE_FAILED = re.compile(r"the digest could not be made \(attempt (\d+)\)")
WORKER_STOPPED = "its worker process stopped before it was made; it is made again at the next start"
# What happened, for people: a digest whose making killed its worker (out of memory, say) was tried again alone.
WORKER_STOPPED_NOTE = (
    "the process making it stopped before finishing, twice (it may have run out of memory; the operator can check)."
)
DIGESTS_OFF = "digests were switched off (`/digest off`) while it was being made"
DELETED_MEANWHILE = "members' data was deleted after it was made, so it is made again without it"
# Audit action of a saved schedule this version no longer accepts, once the moderators were told (its detail starts
# with the schedule as `refused_schedule_key` writes it): a restart finds it again and tells them again only after a
# /digest setting changed since.
SCHEDULE_REFUSED = "digest.schedule_refused"
HISTORY_UNREADABLE = (
    "I cannot read the digest channel's recent messages (Read Message History), which I check first so that a "
    "digest is never posted twice; give me that permission there"
)


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def make_attempts(error: str | None) -> int | None:
    """How many times the digest failed to be made, when that is what its recorded error says."""
    match = _MAKE_FAILED.match(error or "")
    return int(match.group(1)) if match else None


def retried(record: DigestRecord) -> bool:
    """Whether the periodic retry takes this pending digest: one made but not posted (Discord failed), or one whose
    making failed fewer than MAKE_ATTEMPTS times. One never made for another reason (its worker died) is left to
    the next start."""
    if record.error == WORKER_STOPPED:
        return False
    attempts = make_attempts(record.error)
    if attempts is not None:
        return attempts < MAKE_ATTEMPTS
    return record.files_dir is not None


def making_failed(error: str | None) -> bool:
    """Whether the recorded error is about making the digest (not about posting it)."""
    return error == WORKER_STOPPED or make_attempts(error) is not None


async def period_rows(
    storage: Storage,
    guild_id: int,
    period: Period,
    feedback_before: datetime | None = None,
    *,
    compare_from: datetime | None = None,
) -> tuple[DigestRows, DigestRows]:
    """The period's rows and those of the period before it, from `compare_from` (by default `previous_start`),
    whose answers come with the feedback they received up to `feedback_before` (by default the period's end)."""
    feedback = sqlite_timestamp(feedback_before or period.end)
    current = await storage.digest_rows(
        guild_id, sqlite_timestamp(period.start), sqlite_timestamp(period.end), feedback_before=feedback
    )
    before = compare_from or await previous_start(storage, guild_id, period)
    previous = await storage.digest_rows(
        guild_id, sqlite_timestamp(before), sqlite_timestamp(period.start), feedback_before=feedback
    )
    return current, previous


async def previous_start(storage: Storage, guild_id: int, period: Period) -> datetime:
    """Where the period a digest of `period` is compared with starts: the server's schedule's interval before it
    when `period` is one of its intervals, else the equally long span before it (`comparison_start`)."""
    # A schedule this version refuses (logged where it is run) gives equally long spans.
    trigger = saved_trigger(await storage.guild_settings(guild_id), quiet=True)
    return comparison_start(trigger, period)


def day_basis(settings: GuildSettings) -> str:
    """The time zone whose days a server's digest counts: its digest time zone (as saved, which an earlier version
    may have taken with stray spaces), or UTC when that is no longer a time zone at all."""
    try:
        return parse_timezone(settings.digest_timezone, saved=True)
    except UserFacingError:
        log.warning(
            "server %d: digest time zone %r unknown; days are counted in UTC",
            settings.guild_id,
            settings.digest_timezone,
        )
        return "UTC"


def export_timezone(typed: str | None, settings: GuildSettings) -> str:
    """The time zone a `/research-export`'s dates are read in: the one the researcher typed, else the server's
    digest time zone (`day_basis`: UTC until `/digest schedule` sets one), so that they are the server's days."""
    return day_basis(settings) if typed is None else parse_timezone(typed)


async def make_files(
    storage: Storage,
    guild_id: int,
    period: Period,
    directory: Path,
    workers: DigestWorkers | None = None,
    *,
    feedback_before: datetime | None = None,
    timezone: str | None = None,
    compare_from: datetime | None = None,
) -> DigestFiles:
    """Compute the digest and write its report, chart and data files, off the event loop: in a worker process
    when `workers` are given and the database is a file, else in a thread of this process. The period before it,
    compared with, starts at `compare_from` (by default `previous_start`).

    Feedback counts up to the period's end, as a scheduled digest saw it, or up to `feedback_before`: an export
    of a past range made now wants the ratings its answers got after the range, too. Fit over time counts days in
    `timezone` (an export's), by default the server's digest time zone."""
    if timezone is None:
        timezone = day_basis(await storage.guild_settings(guild_id))
    if workers is None or str(storage.path) == ":memory:":
        current, previous = await period_rows(storage, guild_id, period, feedback_before, compare_from=compare_from)
        write = functools.partial(write_digest_files, timezone=timezone)
        return await asyncio.to_thread(write, current, previous, directory)
    job = DigestJob(
        database=storage.path,
        guild_id=guild_id,
        start=sqlite_timestamp(period.start),
        end=sqlite_timestamp(period.end),
        previous_start=sqlite_timestamp(compare_from or await previous_start(storage, guild_id, period)),
        directory=directory,
        feedback_before=sqlite_timestamp(feedback_before) if feedback_before is not None else None,
        timezone=timezone,
    )
    made = await workers.make(job)
    log.info(
        "digest of server %d made in %.2fs by worker %d (rows %.2fs, statistics %.2fs, files %.2fs)",
        guild_id,
        made.read_seconds + made.statistics_seconds + made.files_seconds,
        made.worker,
        made.read_seconds,
        made.statistics_seconds,
        made.files_seconds,
    )
    return made.files


def bundle(files: DigestFiles, directory: Path, limit: int | None = None, *, data: bool = True) -> list[Path]:
    """What is attached: chart, reports, and the data files zipped (Discord allows 10 attachments).

    With `limit` (the server's upload limit in bytes), the data archive is left out when the whole
    post would not fit; it stays on disk, and `/research-export` or `culturebot digest` deliver it.
    `data=False` leaves the data out (and makes no archive): the reports alone.
    """
    if not data:
        return [files.chart, files.markdown, files.html]
    archive = directory / "data.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for path in [*files.exports, files.json]:
            zipped.write(path, arcname=path.name)
    attached = [files.chart, files.markdown, files.html, archive]
    if limit is not None and sum(path.stat().st_size for path in attached) > limit:
        attached.remove(archive)
    return attached


SETTINGS_AUDIT_PREFIX = "digest: "  # the audit detail of every /digest setting change


DATA_NOT_ATTACHED = (
    "The data files are not attached here (the moderators chose so: `/digest channel data_files:False`); "
    "researchers with the research role get them with `/research-export`."
)
DATA_LEFT_OUT = (
    "The data files are too large to attach here; researchers get them with `/research-export` "
    "(or `culturebot digest` on the server)."
)


class DigestService:
    def __init__(
        self,
        client: discord.Client,
        storage: Storage,
        root: Path,
        workers: DigestWorkers | None = None,
        *,
        answers_settle_within: float = ANSWERS_SETTLE_WITHIN,
    ) -> None:
        self._client = client
        self._answers_settle_within = answers_settle_within
        self._storage = storage
        self._root = root
        self.workers = workers if workers is not None else DigestWorkers()
        self._servers: dict[int, asyncio.Lock] = {}  # one digest per server at a time
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._deletions = 0  # times members' data was deleted: a digest made meanwhile is made again without it
        self._server_deletions: dict[int, int] = {}  # the same, of deletions in one server only (`deleting`)
        self._deleting = 0  # deletions under way (`deleting`)
        self._no_deletion = asyncio.Event()  # set while none is under way
        self._no_deletion.set()
        self._discarding: set[asyncio.Task[int]] = set()  # `deleting`'s file removals (kept until done)
        # Digests made but not posted yet (Discord failed or refused), by id, with `_deletions` when they were made:
        # sent again from these while their folder stands and nothing was deleted since, instead of made again.
        self._made_files: dict[int, tuple[DigestFiles, int]] = {}

    def directory(self, record: DigestRecord, period: Period) -> Path:
        """Where a claimed digest's files go: named by its period, and by its id, since two digests can cover
        periods that look alike to the minute (`/digest now` twice in a minute) and neither may overwrite the
        other's files (an undelivered one is sent from them later)."""
        name = f"{period.start:%Y%m%dT%H%M}-{period.end:%Y%m%dT%H%M}-digest-{record.digest_id}"
        return self._root / str(record.guild_id) / name

    @contextlib.asynccontextmanager
    async def _server(self, guild_id: int) -> AsyncIterator[None]:
        """One digest operation per server at a time (other servers' go on meanwhile), counted for `wait_idle`."""
        self._running += 1
        self._idle.clear()
        try:
            async with self._servers.setdefault(guild_id, asyncio.Lock()):
                yield
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()

    async def make_files(
        self,
        guild_id: int,
        period: Period,
        directory: Path,
        *,
        feedback_before: datetime | None = None,
        timezone: str | None = None,
        compare_from: datetime | None = None,
    ) -> DigestFiles:
        """A digest's files for any period (previews and exports too), made by the workers."""
        return await make_files(
            self._storage,
            guild_id,
            period,
            directory,
            self.workers,
            feedback_before=feedback_before,
            timezone=timezone,
            compare_from=compare_from,
        )

    async def make_current_files(
        self,
        guild_id: int,
        period: Period,
        directory: Path,
        *,
        feedback_before: datetime | None = None,
        timezone: str | None = None,
        compare_from: datetime | None = None,
    ) -> tuple[DigestFiles, int]:
        """`make_files`, made again as long as a deletion of members' data (/privacy forget, consent withdrawn,
        retention) ended while they were being made: what a member was told is deleted must not go out in a
        digest, export or preview. With the count of deletions they are current for (see `_made`)."""
        await self._no_deletion.wait()
        deletions = self._deletions_in(guild_id)
        while True:
            files = await self.make_files(
                guild_id,
                period,
                directory,
                feedback_before=feedback_before,
                timezone=timezone,
                compare_from=compare_from,
            )
            if not await self.deleted_since(guild_id, deletions):
                return files, deletions
            deletions = self._deletions_in(guild_id)

    async def deleted_since(self, guild_id: int, deletions: int) -> bool:
        """Whether members' data of this server was deleted since `make_current_files` gave `deletions` (once no
        deletion is under way)."""
        await self._no_deletion.wait()
        return self._deletions_in(guild_id) != deletions

    def _deletions_in(self, guild_id: int) -> int:
        """How many deletions of members' data could have reached this server's digests (it only grows)."""
        return self._deletions + self._server_deletions.get(guild_id, 0)

    async def run_due(self, guild_id: int, now: datetime | None = None, *, first: bool = True) -> DigestRecord | None:
        """Make and send the digest that is due for this server, if any (idempotent).

        `first=False` (the start-up catch-up): a digest is sent only if a scheduled time passed while the bot was
        down after its digests were last set up (the newest `/digest` setting change: later than when the channel
        became usable, so this errs toward sending none), not the moment a channel is set or the bot starts. A
        schedule changed since the last digest does not count a time of its own that came before the change: the
        bot was running then, and the same change sends nothing until its next time when the bot is not restarted.
        """
        settings = await self._storage.guild_settings(guild_id)
        if not settings.digest_enabled or settings.digest_channel_id is None:
            return None
        trigger = saved_trigger(settings)
        if trigger is None:
            return None
        async with self._server(guild_id):
            last = await self._storage.last_digest(guild_id)
            moment = now or datetime.now(UTC)
            if not first and not await self._missed(guild_id, trigger, moment, first_digest=last is None):
                return None
            last_end = parse_timestamp(last.period_end) if last else None
            period = due_period(trigger, last_end, moment)
            if period is None:
                return None
            if last is not None and last.on_demand and just_after(trigger, period):
                # A `/digest now` moments before the scheduled time: a digest of those moments would be noise.
                # The next scheduled one covers them.
                log.info(
                    "server %d: the digest due at %s follows /digest now too closely; left to the next",
                    guild_id,
                    period.end,
                )
                return None
            return await self._make(guild_id, period)

    async def _missed(self, guild_id: int, trigger: CronTrigger, now: datetime, *, first_digest: bool) -> bool:
        """Whether the latest scheduled time came after the digests were last set up (see `run_due`). A server's
        first digest needs a setting change on record; a later one is sent when there is none (set outside the
        bot)."""
        set_up = await self._storage.last_audit_time(guild_id, "settings.update", SETTINGS_AUDIT_PREFIX)
        scheduled = latest_run(trigger, now)
        if set_up is None:
            return not first_digest
        return scheduled is not None and scheduled > parse_timestamp(set_up)

    async def period_so_far(self, guild_id: int, now: datetime | None = None) -> Period:
        """Everything since the last digest (the last 7 days when there is none) up to now: what `/digest now`
        sends and `/digest preview` shows. Empty (end <= start) when the last digest is that recent.

        The end is now to the millisecond, as timestamps are stored, so the answers and ratings of the moment just
        before are in it (to the second, they were left to the next digest)."""
        last = await self._storage.last_digest(guild_id)
        moment = now or datetime.now(UTC)
        end = moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)
        return Period(parse_timestamp(last.period_end) if last else end - timedelta(days=7), end)

    async def run_now(self, guild_id: int, now: datetime | None = None) -> DigestRecord | None:
        """A digest for everything since the last one, sent now (moderators' `/digest now`); None when the last one
        is up to date. A UserFacingError when no answer was asked since: the digest would hold no feedback (ratings
        of earlier answers are in their own period's digest), yet still end the period the next digest covers."""
        async with self._server(guild_id):
            period = await self.period_so_far(guild_id, now)
            if period.end <= period.start:
                return None
            if not await self._storage.answers_asked(
                guild_id, sqlite_timestamp(period.start), sqlite_timestamp(period.end)
            ):
                raise UserFacingError(
                    f"Nothing to send: no answer was asked since the last digest's period ended "
                    f"(<t:{int(period.start.timestamp())}:f>), so a digest now would hold no feedback. "
                    "`/digest preview` shows the period so far."
                )
            return await self._make(guild_id, period, on_demand=True)

    async def _make(self, guild_id: int, period: Period, *, on_demand: bool = False) -> DigestRecord | None:
        record = await self._storage.claim_digest(
            guild_id,
            sqlite_timestamp(period.start),
            sqlite_timestamp(period.end),
            on_demand=on_demand,
            compared_from=sqlite_timestamp(await previous_start(self._storage, guild_id, period)),
        )
        if record is None:
            return None  # already made for this period
        directory = self.directory(record, period)
        files = await self._made(record, period, directory, settle=True)
        if files is None:
            return await self._reload(record)  # kept pending with the error, made again by the retry job
        await self._storage.update_digest(record.digest_id, DigestStatus.PENDING, files_dir=str(directory))
        return await self.deliver(record, files)

    async def deliver(self, record: DigestRecord, files: DigestFiles) -> DigestRecord:
        """Post the digest in the server's digest channel, or keep it and say why: as undelivered when the channel
        is missing or refuses the bot or digests were switched off, as pending (tried again by `retry_pending`)
        when Discord could not be reached or failed on its side, since the message may then have been posted.

        The settings are read here, under the server's lock, rather than before the digest was made: making it
        can take minutes, and a digest moved to a private channel or switched off meanwhile must not be posted
        where the moderators no longer want its quotes. One asked for with `/digest now` (`record.on_demand`) is
        posted even while scheduled digests are off, also when it is tried again."""
        settings = await self._storage.guild_settings(record.guild_id)
        if not settings.digest_enabled and not record.on_demand:
            return await self._undelivered(
                record, settings, DIGESTS_OFF, "digests are switched on again with `/digest schedule`"
            )
        channel = self._channel(settings)
        if channel is None:
            reason = "no digest channel is set" if settings.digest_channel_id is None else "the digest channel is gone"
            return await self._undelivered(record, settings, reason)
        directory = files.markdown.parent
        try:
            posted = await self._find_posted(channel, record)
        except discord.Forbidden:
            # Posting without looking could post it twice: it waits, pending, until the history can be read.
            return await self._not_posted_yet(record, settings, HISTORY_UNREADABLE)
        except DISCORD_FAILURES as error:
            return await self._not_posted_yet(record, settings, f"Discord could not be asked ({error!r})")
        try:
            if posted is None:
                data = settings.digest_data_files
                limit = channel.guild.filesize_limit
                paths = await asyncio.to_thread(functools.partial(bundle, data=data), files, directory, limit)
                attachments = [discord.File(path, filename=path.name) for path in paths]
                zipped = any(path.name == "data.zip" for path in paths)
                embed = digest_embed(files.digest, record, MARKER.format(id=record.digest_id), data=zipped)
                embed.set_image(url=f"attachment://{files.chart.name}")
                content = None if zipped else DATA_LEFT_OUT if data else DATA_NOT_ATTACHED
                if record.status is not DigestStatus.PENDING or record.channel_id != channel.id:
                    # Pending, in this channel, before it is posted: a crash between the post and the record
                    # below is then recognised by `_find_posted` at the next start (an undelivered digest was
                    # otherwise posted twice), also after the channel is changed.
                    await self._storage.update_digest(
                        record.digest_id, DigestStatus.PENDING, channel_id=channel.id, error=record.error
                    )
                    record = replace(record, status=DigestStatus.PENDING, channel_id=channel.id)
                # Members' data deleted in this server after the files were made (checking the channel and zipping
                # a large digest take seconds): not posted; the retry makes it again from the database. Checked
                # last, with nothing awaited between the check and the post.
                kept = self._made_files.get(record.digest_id)
                if kept is not None and await self.deleted_since(record.guild_id, kept[1]):
                    del self._made_files[record.digest_id]
                    return await self._not_posted_yet(record, settings, DELETED_MEANWHILE)
                posted = await channel.send(content, embed=embed, files=attachments, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            if error.status >= 500 or error.status == 429:
                return await self._not_posted_yet(record, settings, f"Discord failed ({error.status}: {error.text})")
            return await self._undelivered(
                record,
                settings,
                f"Discord refused the post ({error.status}: {error.text})",
                _once_postable(channel),
            )
        except UNREACHABLE as error:
            return await self._not_posted_yet(record, settings, f"Discord could not be reached ({error!r})")
        # Where it is: found in the channel it was posted to before the digest channel was changed, perhaps.
        where = posted.channel.id
        await self._storage.update_digest(record.digest_id, DigestStatus.SENT, channel_id=where, message_id=posted.id)
        self._made_files.pop(record.digest_id, None)
        log.info("digest %d sent to channel %d", record.digest_id, where)
        # Posted: the copy on disk goes. It holds texts that retention and `/privacy forget` delete from the
        # database but could not reach in files; a digest is remade from the database whenever it is needed again.
        await asyncio.to_thread(shutil.rmtree, directory, True)
        return await self._reload(record)

    def _server_folders(self) -> list[tuple[int, Path]]:
        """(server id, its folder) under the root: the folders this service wrote are named by server id."""
        if not self._root.is_dir():
            return []
        folders = sorted(self._root.iterdir())
        return [(int(path.name), path) for path in folders if path.is_dir() and path.name.isdigit()]

    @staticmethod
    async def _remove(folders: list[Path]) -> int:
        for folder in folders:
            await asyncio.to_thread(shutil.rmtree, folder, True)
        return len(folders)

    async def prune_files(self, now: datetime | None = None) -> int:
        """Remove digest folders older than their server's retention period (digests kept undelivered that long,
        and folders of sent digests from versions that kept them); returns how many. Undelivered digests are
        remade from the database when they are sent."""
        moment = (now or datetime.now(UTC)).timestamp()
        removed = 0
        for guild_id, server in self._server_folders():
            settings = await self._storage.guild_settings(guild_id)
            cutoff = moment - settings.retention_days * 86400
            removed += await self._remove(
                [folder for folder in server.iterdir() if folder.is_dir() and folder.stat().st_mtime < cutoff]
            )
        return removed

    @contextlib.asynccontextmanager
    async def deleting(self, guild_id: int | None = None) -> AsyncIterator[Deletion]:
        """Around a deletion of members' texts or feedback (/privacy forget, consent withdrawn, retention, a rating
        reaction taken back): digests being made wait for it to end and are made again if it deleted anything (the
        caller sets `Deletion.deleted`), and the files of digests not posted yet are then removed (`discard_files`,
        in a task: it waits for digests being made, and a member's click must be answered now;
        `Deletion.discarding`). `guild_id`: a deletion in that server only, which remakes and removes only its
        digests (a rating taken back is frequent; other servers' digests must not be made again for it)."""
        deletion = Deletion()
        self._deleting += 1
        self._no_deletion.clear()
        try:
            yield deletion
        except BaseException:
            # The body may have committed its deletion before it failed or was cancelled: count it as done. A
            # digest made again for nothing costs a little time; one made with deleted texts must not be posted.
            deletion.deleted = True
            raise
        finally:
            self._deleting -= 1
            if deletion.deleted:
                if guild_id is None:
                    self._deletions += 1
                else:
                    self._server_deletions[guild_id] = self._server_deletions.get(guild_id, 0) + 1
                task = asyncio.create_task(self.discard_files(guild_id), name="digests: discard files")
                self._discarding.add(task)
                task.add_done_callback(self._discarding.discard)
                deletion.discarding = task
            if not self._deleting:
                self._no_deletion.set()

    async def discard_files(self, guild_id: int | None = None) -> int:
        """Remove every digest folder on disk (of one server, with `guild_id`), and so the digests not posted yet
        (posted ones' folders are gone already); how many. They hold texts that `/privacy forget` deletes from the
        database; each is remade from the database when it is sent. A server's folders go under its lock: no digest
        being posted loses its files (one being made waits until it is done)."""
        removed = 0
        for server_id, server in self._server_folders():
            if guild_id is not None and server_id != guild_id:
                continue
            async with self._server(server_id):
                removed += await self._remove([folder for folder in server.iterdir() if folder.is_dir()])
        return removed

    async def resend_kept(self, guild_id: int, *, retrying: bool = False, at_start: bool = False) -> int:
        """Send digests left pending (Discord failed, or the bot stopped) and those kept as undelivered (after the
        channel is fixed, or at start-up); how many were sent.

        Undelivered ones wait while the channel is still missing, or the bot still lacks a permission a digest needs
        there: remaking them would only repeat the note the moderators already had for each. `retrying` (the
        periodic retry) sends only pending digests that were made, and those whose making failed (up to
        MAKE_ATTEMPTS times): one never made because its worker died is left to the next start, not tried again and
        again. Only `at_start` (the start-up catch-up) remakes those,
        and those whose making failed MAKE_ATTEMPTS times; a moderator's command (`/digest channel`, `schedule`)
        sends the rest.

        Each digest is sent on its own: one that fails does not keep the others back."""
        sent = 0
        async with self._server(guild_id):
            # Read under the lock: a digest being made meanwhile may have been kept since.
            settings = await self._storage.guild_settings(guild_id)
            kept = await self._storage.digests(guild_id, DigestStatus.PENDING)
            if retrying:
                kept = [record for record in kept if retried(record)]
            elif not at_start:
                kept = [record for record in kept if not making_failed(record.error) or retried(record)]
            # Undelivered ones only once the bot has what a digest needs in the channel (the cached state says):
            # each scheduled run remade every one of them, and each failure told the moderators again.
            channel = self._channel(settings)
            if not retrying and channel is not None and not bot_lacks(channel, DIGEST):
                kept += await self._storage.digests(guild_id, DigestStatus.UNDELIVERED)
            if not settings.digest_enabled:
                # Kept until digests are switched on again, but for those a moderator asked for with `/digest now`.
                kept = [record for record in kept if record.on_demand]
            for record in sorted(kept, key=lambda r: r.period_end):
                try:
                    sent += await self._resend(record)
                except Exception:
                    log.exception("digest %d of server %d could not be sent again", record.digest_id, guild_id)
        return sent

    async def send_when_postable(self, guild_id: int) -> int:
        """After a change that may let the bot post in the digest channel again (the channel's permissions, the
        bot's roles or theirs): send the digests kept undelivered if the bot now has every permission a digest
        needs there (`channel_access.DIGEST`, from the cached state: no request); how many were sent. Nothing is
        tried while one still lacks: the moderators were told which when the digest was kept."""
        settings = await self._storage.guild_settings(guild_id)
        channel = self._channel(settings)
        if channel is None or bot_lacks(channel, DIGEST):
            return 0
        if not await self._storage.digests(guild_id, DigestStatus.UNDELIVERED):
            return 0
        sent = await self.resend_kept(guild_id)
        if sent:
            log.info(
                "server %d: sent %d kept digest(s) once the bot could post in channel %d", guild_id, sent, channel.id
            )
        return sent

    async def tell_schedule_refused(self, guild_id: int) -> bool:
        """Tell the moderators that the server's saved schedule is no longer accepted (saved by an earlier version
        that took it), so no scheduled digest is made until one is set; once per saved schedule (again if it was
        changed and saved once more). Whether they were told now.

        `saved_trigger` only logs it; without this the research team would just stop getting digests."""
        async with self._server(guild_id):  # one at a time: the audit row is read, then written after the note
            settings = await self._storage.guild_settings(guild_id)  # as it is now, not when the caller read it
            if not settings.digest_enabled or settings.digest_channel_id is None:
                return False
            problem = schedule_problem(settings)
            if problem is None:
                return False
            key = refused_schedule_key(settings)
            told_at = await self._storage.last_audit_time(guild_id, SCHEDULE_REFUSED, key)
            changed_at = await self._storage.last_audit_time(guild_id, "settings.update", SETTINGS_AUDIT_PREFIX)
            if told_at is not None and (changed_at is None or told_at >= changed_at):
                return False
            told = await self._tell_moderators(settings, schedule_refused_note(settings, problem))
            if told:  # else tried again at the next start, when there may be a channel to tell them in
                me = self._client.user
                await self._storage.add_audit(
                    guild_id, me.id if me is not None else 0, SCHEDULE_REFUSED, f"{key}: no scheduled digest is made"
                )
            return told

    async def run_scheduled(self, guild_id: int, now: datetime | None = None) -> DigestRecord | None:
        """The schedule's job: digests kept meanwhile (Discord failed or refused them, the bot missed the change
        that let it post again) go first, in period order, then the one due `now`."""
        try:
            await self.resend_kept(guild_id)
        except Exception:  # the digest due now is sent all the same
            log.exception("sending the kept digests of server %d failed", guild_id)
        return await self.run_due(guild_id, now)

    async def _resend(self, record: DigestRecord) -> bool:
        """Make a kept digest again and deliver it; whether it was sent."""
        period = Period(parse_timestamp(record.period_start), parse_timestamp(record.period_end))
        directory = Path(record.files_dir) if record.files_dir else self.directory(record, period)
        files = await self._made(record, period, directory)
        if files is None:
            return False  # kept, with the error
        if record.files_dir is None or making_failed(record.error):
            # Never made before (its first try failed): recorded before posting, so that a crash right after
            # posting is recognised by `_find_posted` at the next start. Made now: the making error goes.
            error = None if making_failed(record.error) else record.error
            await self._storage.update_digest(record.digest_id, record.status, files_dir=str(directory), error=error)
            record = replace(record, files_dir=str(directory), error=error)
        result = await self.deliver(record, files)
        return result.status is DigestStatus.SENT

    async def _answers_settled(self, guild_id: int, period: Period) -> None:
        """Wait until no answer asked in the period is still being written, for at most the longest an answer
        takes. A digest due while one streams would leave it out (unfinished answers are not read), and the next
        digest covers answers asked after this period: the answer, its ratings and comments would be in no digest.
        The period is claimed already, so a restart meanwhile neither loses nor repeats it."""
        start, end = sqlite_timestamp(period.start), sqlite_timestamp(period.end)
        deadline = asyncio.get_running_loop().time() + self._answers_settle_within
        while writing := await self._storage.answers_being_written(guild_id, start, end):
            if asyncio.get_running_loop().time() >= deadline:
                log.warning(
                    "server %d's digest for %s - %s leaves out %d answer(s) still being written after %.0fs",
                    guild_id,
                    start,
                    end,
                    writing,
                    self._answers_settle_within,
                )
                return
            await asyncio.sleep(SETTLE_POLL)

    async def _made(
        self, record: DigestRecord, period: Period, directory: Path, *, settle: bool = False
    ) -> DigestFiles | None:
        """The claimed digest's files (after the answers being written settle, with `settle`), or None when making
        them failed: the error is recorded on the digest, which stays as it was to be made again (see `retried`),
        and the moderators are told the first time. A worker that died is reported here and raised (the caller
        sees it too); the digest is then left to the next start."""
        if (kept := self._made_files.get(record.digest_id)) is not None:
            files, made_at = kept
            current = not await self.deleted_since(record.guild_id, made_at)
            if current and files.markdown.parent == directory and files.markdown.exists():
                return files  # nothing deleted since it was made (a deletion also removes the folder)
            del self._made_files[record.digest_id]
        try:
            if settle:
                await self._answers_settled(record.guild_id, period)
            # A member asked to be forgotten, withdrew consent or retention purged texts while the rows were being
            # read and used: posted, the digest would still carry them. Made again from the database.
            compare_from = parse_timestamp(record.compared_from) if record.compared_from else None
            files, deletions = await self.make_current_files(
                record.guild_id, period, directory, compare_from=compare_from
            )
            self._made_files[record.digest_id] = (files, deletions)
            return files
        except WorkerStopped:
            log.error(
                "digest %d (server %d, %s - %s) could not be made: its worker process stopped before finishing; "
                "it stays pending and is made again at the next start",
                record.digest_id,
                record.guild_id,
                record.period_start,
                record.period_end,
            )
            # Recorded, so that neither the retry job nor a moderator's command makes it again and again (a digest
            # may be what kills its worker): only the next start does.
            try:
                await self._storage.update_digest(record.digest_id, record.status, error=WORKER_STOPPED)
            except Exception:  # at shutdown the database may be closed already; the start remakes it anyway
                log.warning("digest %d: could not record that its worker stopped", record.digest_id)
            if not self.workers.closed and record.error != WORKER_STOPPED:
                # Told once (not at shutdown, which stops workers on purpose): the digest may wait days for a start.
                note = (
                    f"The research digest for {reader_period(record.period_start, record.period_end)} could not be "
                    f"made: {WORKER_STOPPED_NOTE} It is kept and made again at the bot's next start; the bot's log "
                    "has the details."
                )
                await self._tell_moderators(await self._storage.guild_settings(record.guild_id), note)
            raise
        except Exception as error:
            attempt = (make_attempts(record.error) or 0) + 1
            described = shortened(f"{type(error).__name__}: {error}", ERROR_TEXT_LIMIT)  # an error's text is unbounded
            reason = MAKE_FAILED.format(attempt=attempt, error=described)
            log.exception("digest %d (server %d): %s", record.digest_id, record.guild_id, reason)
            try:
                await self._storage.update_digest(record.digest_id, record.status, error=reason)
                recorded = True
            except Exception:  # a full disk fails both: the moderators are told all the same
                log.exception("digest %d: could not record that it could not be made", record.digest_id)
                recorded = False
            if attempt == 1:
                again = (
                    f"It is made again every {RETRY_PENDING_EVERY_MINUTES} minutes, up to {MAKE_ATTEMPTS} tries, "
                    "then at the bot's next start"
                )
                if not recorded:  # the retry job takes only failures it finds recorded
                    again = (
                        "The bot could not even record the failure (is its disk full?): it is made again at its next "
                        "start"
                    )
                elif record.status is DigestStatus.UNDELIVERED:
                    again = "It is made again when it is next sent (`/digest channel`, or the bot's next start)"
                note = (
                    f"The research digest for {reader_period(record.period_start, record.period_end)} could not be "
                    f"made ({described}). {again}; the bot's log has the details."
                )
                await self._tell_moderators(await self._storage.guild_settings(record.guild_id), note)
            return None

    async def wait_idle(self, grace: float) -> None:
        """Let digests being made finish (shutdown waits for them before closing the database)."""
        try:
            async with asyncio.timeout(grace):
                await self._idle.wait()
        except TimeoutError:
            log.warning("digests were still being made after %.0fs; they stay pending and resume at start", grace)

    async def close(self) -> None:
        """End the worker processes (after `wait_idle`; a digest still running is stopped and stays pending), after
        letting files being removed after a deletion go."""
        if self._discarding:
            await asyncio.wait(set(self._discarding), timeout=WORKERS_STOP_GRACE)
        await self.workers.close(WORKERS_STOP_GRACE)

    async def _find_posted(self, channel: discord.abc.Messageable, record: DigestRecord) -> discord.Message | None:
        """The digest's message if a crash hit after posting it but before recording that (or Discord failed
        but took the post), in `channel` or in the channel it was last posted to, if the channel was changed
        since. Only the current channel must be readable: the earlier one is checked when the bot still can."""
        # Any record not recorded as sent, once made: a pending one may have been posted before a crash or a
        # failure Discord took the post in, and it stays "may be posted" when it is kept as undelivered after.
        if record.status is DigestStatus.SENT or record.files_dir is None:
            return None
        earlier = self._client.get_channel(record.channel_id) if record.channel_id else None
        if isinstance(earlier, discord.TextChannel | discord.Thread) and earlier.id != getattr(channel, "id", None):
            try:
                if (message := await self._posted_in(earlier, record)) is not None:
                    return message
            except DISCORD_FAILURES as error:
                log.warning(
                    "digest %d: its earlier channel %d could not be checked: %r", record.digest_id, earlier.id, error
                )
        return await self._posted_in(channel, record)

    async def _posted_in(self, channel: discord.abc.Messageable, record: DigestRecord) -> discord.Message | None:
        marker = MARKER.format(id=record.digest_id)
        claimed = _claim_time(record)
        # From the claim on (a busy channel since the post), then the newest messages (a digest kept while
        # digests were off, or undelivered, is posted days after its claim).
        scans = [channel.history(limit=HISTORY_SCAN_RECENT)]
        if claimed is not None:
            scans.insert(0, channel.history(limit=HISTORY_SCAN, after=claimed, oldest_first=True))
        for history in scans:
            async for message in history:
                if any(embed.footer.text == marker for embed in message.embeds):
                    return message
        return None

    async def retry_pending(self, guild_id: int) -> int:
        """Post the server's digests that were made but not posted (Discord failed), and make again those whose
        making failed (a bounded number of times); how many were sent. Digests never made because their worker
        died are left to the next start, so a digest that crashes its worker is not retried over and over."""
        # Checked first without the server's lock, which a digest being made holds for minutes.
        pending = await self._storage.digests(guild_id, DigestStatus.PENDING)
        if not any(retried(record) for record in pending):
            return 0
        return await self.resend_kept(guild_id, retrying=True)

    def serves(self, guild_id: int) -> bool:
        """Whether the bot is in the server (known to its client, available or not)."""
        return self._client.get_guild(guild_id) is not None

    def _channel(self, settings: GuildSettings) -> discord.TextChannel | discord.Thread | None:
        channel = self._client.get_channel(settings.digest_channel_id) if settings.digest_channel_id else None
        return channel if isinstance(channel, discord.TextChannel | discord.Thread) else None

    async def _not_posted_yet(self, record: DigestRecord, settings: GuildSettings, reason: str) -> DigestRecord:
        """Keep the digest pending (with the reason) to be tried again; tell the moderators the first time."""
        first = record.error is None
        await self._storage.update_digest(record.digest_id, DigestStatus.PENDING, error=reason)
        log.warning("digest %d not posted yet, tried again later: %s", record.digest_id, reason)
        if first:
            note = (
                f"The research digest for {reader_period(record.period_start, record.period_end)} could not be posted "
                f"yet: {reason}. It is kept and tried again every {RETRY_PENDING_EVERY_MINUTES} minutes."
            )
            await self._tell_moderators(settings, note)
        return await self._reload(record)

    async def _undelivered(
        self,
        record: DigestRecord,
        settings: GuildSettings,
        reason: str,
        until: str = "`/digest channel` names a channel I can post in",
    ) -> DigestRecord:
        await self._storage.update_digest(record.digest_id, DigestStatus.UNDELIVERED, error=reason)
        note = (
            f"The research digest for {reader_period(record.period_start, record.period_end)} could not be posted: "
            f"{reason}. It is kept and will be sent once {until}."
        )
        log.warning("digest %d undelivered: %s", record.digest_id, reason)
        await self._tell_moderators(settings, note)
        return await self._reload(record)

    async def _reload(self, record: DigestRecord) -> DigestRecord:
        updated = await self._storage.get_digest(record.digest_id)
        assert updated is not None
        return updated

    async def _tell_moderators(self, settings: GuildSettings, note: str) -> bool:
        """Post `note` to the moderation log channel, else the server's system channel; whether it was posted."""
        guild = self._client.get_guild(settings.guild_id)
        candidates = [self._client.get_channel(settings.log_channel_id) if settings.log_channel_id else None]
        if guild is not None:
            candidates.append(guild.system_channel)
        for channel in candidates:
            if isinstance(channel, discord.TextChannel):
                try:
                    await channel.send(shortened(note, MESSAGE_LIMIT), allowed_mentions=NO_PINGS)
                    return True
                except DISCORD_FAILURES:
                    continue
        log.warning("no channel to tell the moderators of server %d: %s", settings.guild_id, note)
        return False


def refused_schedule_key(settings: GuildSettings) -> str:
    """How a saved schedule is named in its SCHEDULE_REFUSED audit entry and in the moderators' note."""
    return f"`{settings.digest_cron}` ({settings.digest_timezone})"


def schedule_refused_note(settings: GuildSettings, problem: str) -> str:
    """What the moderators are told of a saved schedule this version refuses (`schedule_problem`)."""
    return (
        f"No scheduled research digest is made: the saved schedule {refused_schedule_key(settings)} is no longer "
        f"accepted by this version of the bot. {problem} Set a schedule with `/digest schedule`; digests then resume "
        "with the next scheduled time (`/digest now` works meanwhile)."
    )


def _once_postable(channel: discord.TextChannel | discord.Thread) -> str:
    """When a digest Discord refused is sent: once the bot has what it lacks in `channel` (from the cached state),
    or, when it seems to lack nothing, with the next scheduled digest; or once another channel is chosen."""
    missing = bot_lacks(channel, DIGEST)
    if not missing:
        return (
            "the next scheduled digest is due (it goes first), or once `/digest channel` names a channel I can post in"
        )
    return (
        f"the bot can post in {channel.mention} (it lacks {', '.join(missing)} there: it is sent as soon as it has "
        f"{'it' if len(missing) == 1 else 'them'}, no command needed), or once `/digest channel` names another channel"
    )


def _claim_time(record: DigestRecord) -> datetime | None:
    """A minute before the digest's period was claimed (clocks differ a little), or None when not known."""
    if record.created_at is None:
        return None
    try:
        return datetime.fromisoformat(record.created_at.replace("Z", "+00:00")) - timedelta(minutes=1)
    except ValueError:
        return None
