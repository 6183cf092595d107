"""The bot process: a commands.Bot that owns storage, the model client and the answers in flight.

`setup_hook` runs once per process: open and migrate the database, load every extension in cogs/,
and sync slash commands only when they changed. `close` is the one shutdown path, used by
signals and errors alike: stop taking questions, let running answers finish (or mark them
interrupted), let digests being made finish and end their worker processes, then close the gateway, the
model and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import pkgutil
import time
from datetime import UTC, datetime, timedelta

import discord
from discord.ext import commands

import cogs
from bot.answers.interrupted import mend_interrupted_answers
from bot.answers.pipeline import Answerer
from bot.collector import freeze_and_collect_less, unfreeze
from bot.config import CommandSync, Settings
from bot.digests.deletion import Deletion, deleting
from bot.digests.service import DigestService
from bot.discord_endpoints import use_discord_endpoints
from bot.feedback.catch_up import ReactionGate, catch_up_reactions
from bot.feedback.comment_catch_up import catch_up_comments
from bot.feedback.privacy_requests import PrivacyRequests
from bot.jobs import Jobs
from bot.llm.client import ModelClient
from bot.locks import KeyedLocks
from bot.pseudonyms import KEY_CHECK, KeyMismatch, Pseudonymizer
from bot.scopes.manage import ScopeCache
from bot.storage import InterruptedAnswer, Storage, open_storage
from bot.storage.privacy_log import PrivacyLog

log = logging.getLogger(__name__)

COMMAND_HASH_KEY = "synced_commands_sha256"


def required_intents(message_content: bool = False) -> discord.Intents:
    """Only what the features need: no privileged intent (answering on mention needs none), unless the operator
    asks for Message Content so that threads and replies continue without a mention."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.guild_reactions = True
    intents.message_content = message_content
    return intents


def extension_names() -> list[str]:
    """Every module in cogs/, each a discord.py extension."""
    return sorted(f"{cogs.__name__}.{module.name}" for module in pkgutil.iter_modules(cogs.__path__))


class CultureBot(commands.Bot):
    """culturebot's Discord client."""

    def __init__(self, settings: Settings, *, model: ModelClient, pseudonyms: Pseudonymizer) -> None:
        use_discord_endpoints(str(settings.discord_api_base), str(settings.discord_gateway_url))
        super().__init__(
            command_prefix=commands.when_mentioned,  # no prefix commands; slash commands only
            help_command=None,
            intents=required_intents(settings.message_content_intent),
            # Nobody is pinged unless the call names them (the consent note names its member); model output, and
            # every text that may echo what someone wrote, goes out with no pings at all.
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=settings.guild_ready_timeout,
            # No message cache: every listener works from raw events and the database, and discord.py looks a
            # cached message up by scanning the whole cache on each edit and reaction event (the bot's own
            # included, several per answer), which cost a busy bot more than its own answer logic.
            max_messages=None,
        )
        self.settings = settings
        self.model = model
        self.pseudonyms = pseudonyms
        self.scope_cache = ScopeCache()
        self._storage: Storage | None = None
        self._answerer: Answerer | None = None
        self._privacy: PrivacyRequests | None = None
        self._closing = False
        self._failed = False  # start() ended in an error (logging in, setting up, or the gateway)
        self.set_up = False  # setup_hook has finished: the bot may be answering from now on
        self._gc_thresholds: tuple[int, int, int] | None = None  # as before freeze_and_collect_less, while frozen
        self.jobs: Jobs | None = None
        self._caught_up = False
        self._catch_up: asyncio.Task[None] | None = None
        # Rating reactions made while the bot was offline (bot/feedback/catch_up.py), read back per gateway session.
        self.reaction_gate = ReactionGate()
        # One change at a time to a reply comment's message: a live edit or deletion, or its read-back.
        self.comment_messages = KeyedLocks()
        self._reactions_catch_up: asyncio.Task[None] | None = None
        self._reactions_catch_up_again = False  # a new session began while a pass was running: read again after it
        # Answers a crash cut off: their messages are closed once connected (bot/answers/interrupted.py).
        self._interrupted: list[InterruptedAnswer] = []
        self._mending: asyncio.Task[None] | None = None

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            raise RuntimeError("storage is opened in setup_hook")
        return self._storage

    @property
    def privacy(self) -> PrivacyRequests:
        """Where consent decisions and forget requests are made (logged outside the database first)."""
        if self._privacy is None:
            raise RuntimeError("the privacy requests are set up in setup_hook")
        return self._privacy

    @property
    def answerer(self) -> Answerer:
        if self._answerer is None:
            raise RuntimeError("the answerer is created in setup_hook")
        return self._answerer

    async def setup_hook(self) -> None:
        self._storage = await open_storage(self.settings)
        await self._check_pseudonym_key(self._storage)
        # Before anything is answered or stored: a database restored from a backup gets back the consent
        # decisions and forget requests made since the backup (bot/storage/privacy_log.py).
        privacy_log = await asyncio.to_thread(
            PrivacyLog.open, self.settings.privacy_log_path, timedelta(days=self.settings.privacy_log_days)
        )
        self._privacy = PrivacyRequests(self._storage, privacy_log)
        await self._privacy.replay()
        self._interrupted = await self._storage.close_interrupted_answers()
        if self._interrupted:
            log.warning(
                "%d answer(s) were cut off by the last shutdown and are marked incomplete", len(self._interrupted)
            )
        self._answerer = Answerer(
            storage=self._storage,
            model=self.model,
            pseudonyms=self.pseudonyms,
            scopes=self.scope_cache,
            scope_budget=self.settings.scope_prompt_chars,
            edit_interval=self.settings.stream_edit_interval,
            max_chars=self.settings.max_answer_chars,
        )
        for name in extension_names():
            await self.load_extension(name)
        await self.sync_commands()
        digests = DigestService(
            self, self._storage, self.settings.digest_dir, answers_settle_within=self.settings.answer_time_limit
        )
        self.jobs = Jobs(self._storage, digests, self)
        await self.jobs.start()
        self.set_up = True

    async def _check_pseudonym_key(self, storage: Storage) -> None:
        """Refuse to run with another key than the database's pseudonyms were made with: a lost or moved key file
        would otherwise be replaced by a new key, and every member's export, deletion and consent would silently
        stop matching their data. The first start (or a database from before this check) records the key's
        fingerprint."""
        stored = await storage.get_state(KEY_CHECK)
        mine = self.pseudonyms.fingerprint()
        if stored is None:
            await storage.set_state(KEY_CHECK, mine)
        elif stored != mine:
            made = self.pseudonyms.new_key_file
            if made is not None:
                # Made by this start, because the key file was not there: nothing was pseudonymised with it, and
                # left there it would take the place where the real key is to be restored.
                made.unlink(missing_ok=True)
                log.warning("removed the pseudonymisation key just made in %s: the database has another", made)
            raise KeyMismatch(stored, mine, missing_key_file=made)

    async def sync_commands(self) -> None:
        """Register slash commands where the settings say, skipping the call when nothing changed."""
        mode = self.settings.command_sync
        if mode is CommandSync.OFF:
            return
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands()]
        targets: list[discord.abc.Snowflake | None]
        if mode is CommandSync.GLOBAL:
            targets = [None]
        else:
            targets = [discord.Object(guild_id) for guild_id in self.settings.dev_guild_ids]
        # With the application's id: a database moved to another bot (a new token) must register its commands there.
        digest = hashlib.sha256(
            json.dumps(
                [mode.value, sorted(self.settings.dev_guild_ids), payload, self.application_id], sort_keys=True
            ).encode()
        ).hexdigest()
        if await self.storage.get_state(COMMAND_HASH_KEY) == digest and await self._commands_registered(targets):
            log.info("slash commands unchanged since the last sync; not syncing")
            return
        for guild in targets:
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d slash command(s) %s", len(synced), "globally" if guild is None else f"to {guild.id}")
        await self.storage.set_state(COMMAND_HASH_KEY, digest)

    async def _commands_registered(self, targets: list[discord.abc.Snowflake | None]) -> bool:
        """Whether Discord has every one of our commands where they are synced (one request per target): they may
        have been deleted in the Developer Portal, or replaced by another program using the same token."""
        ours = {command.name for command in self.tree.get_commands()}
        for guild in targets:
            registered = {command.name for command in await self.tree.fetch_commands(guild=guild)}
            if not ours <= registered:
                log.info("Discord is missing slash commands %s; syncing them again", sorted(ours - registered))
                return False
        return True

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("connected as %s (%d) to %d server(s)", self.user, self.user.id, len(self.guilds))
        if self._gc_thresholds is None and not gc.get_freeze_count():  # not when another bot of this process did
            # Modules, discord.py's caches of servers, channels and members live as long as the process: frozen,
            # full collections skip them (with 100 servers and 200 answers streaming, each walked them all in a
            # 100-150 ms pause every few seconds). See bot/collector.py for the young generation.
            self._gc_thresholds = freeze_and_collect_less()
        if not self._caught_up and self.jobs is not None:
            # on_ready fires again after reconnects; digests missed while down are caught up once.
            self._caught_up = True
            self._catch_up = asyncio.create_task(self.jobs.catch_up(), name="digest catch-up")
        if self._interrupted and self._mending is None and not self._closing:
            self._mending = asyncio.create_task(self._mend_interrupted(), name="interrupted answers")
        # on_ready means a new session (a resumed one replays what it missed and fires on_resumed instead).
        if not self.settings.reaction_catch_up_answers or self._closing:
            return
        if self._reactions_catch_up is not None and not self._reactions_catch_up.done():
            # Reactions made during this latest outage on answers the running pass has already read would never be
            # read: another pass follows it (not alongside it, which would read every answer twice at once).
            self._reactions_catch_up_again = True
        else:
            self._reactions_catch_up = asyncio.create_task(self._catch_up_reactions(), name="reaction catch-up")

    async def _mend_interrupted(self) -> None:
        answers, self._interrupted = self._interrupted, []
        edited = await mend_interrupted_answers(self, answers)
        log.info("closed %d message(s) of answers the last shutdown cut off", edited)

    async def _catch_up_reactions(self) -> None:
        """Read back rating reactions, once more after each pass during which a new gateway session began."""
        while True:
            self._reactions_catch_up_again = False
            await self._catch_up_reactions_once()
            if not self._reactions_catch_up_again or self._closing:
                return

    async def _catch_up_reactions_once(self) -> None:
        since = datetime.now(UTC) - timedelta(hours=self.settings.reaction_catch_up_hours)
        await self._read_back_reactions(since)
        if not self._closing:
            await self._read_back_comments(since)

    async def _read_back_comments(self, since: datetime) -> None:
        started = time.monotonic()
        try:
            counts = await catch_up_comments(
                self,
                self.storage,
                self.pseudonyms,
                prefix=self.settings.comment_prefix,
                since=since,
                limit=self.settings.reaction_catch_up_answers,
                stopping=lambda: self._closing,
                deleting=self.deleting_member_data,
                messages=self.comment_messages,
            )
        except Exception:
            log.exception("reading back reply comments failed; live edits and deletions are unaffected")
            return
        log.info(
            "reply comments read back: %d message(s) in %.1fs, %d comment(s) deleted with their message, %d changed "
            "by an edit, %d unreadable%s",
            counts.read,
            time.monotonic() - started,
            counts.deleted,
            counts.changed,
            counts.unreadable,
            f" ({'; '.join(counts.errors)})" if counts.errors else "",
        )

    async def _read_back_reactions(self, since: datetime) -> None:
        started = time.monotonic()
        try:
            counts = await catch_up_reactions(
                self,
                self.storage,
                self.pseudonyms,
                self.reaction_gate,
                since=since,
                limit=self.settings.reaction_catch_up_answers,
                stopping=lambda: self._closing,
                deleting=self.deleting_member_data,
            )
        except Exception:
            log.exception("reading back rating reactions failed; live reactions are unaffected")
            return
        log.info(
            "rating reactions read back on %d answer(s) in %.1fs: %d stored, %d removed, %d not kept without "
            "consent, %d ambiguous, %d answer(s) unreadable%s",
            counts.answers,
            time.monotonic() - started,
            counts.stored,
            counts.deleted,
            counts.not_consented,
            counts.ambiguous,
            counts.unreadable,
            f" ({'; '.join(counts.errors)})" if counts.errors else "",
        )

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.storage.ensure_guild(guild.id, guild.name)
        if self.jobs is not None:  # added back: its digest settings were kept
            self.jobs.schedule_digest(await self.storage.guild_settings(guild.id))

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server (not a server outage): its digests stop until the bot is added back. Its data
        stays under the server's retention period, as the privacy notice says."""
        log.info("removed from server %d; its digests are no longer scheduled", guild.id)
        if self.jobs is not None:
            self.jobs.unschedule_digest(guild.id)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.storage.ensure_guild(guild.id, guild.name)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: messages are handled by the cogs' listeners only."""

    def deleting_member_data(self, guild_id: int | None = None) -> contextlib.AbstractAsyncContextManager[Deletion]:
        """A deletion of members' data (in one server, with `guild_id`) as the digests follow it
        (bot/digests/deletion.py); there are none to follow while the bot is still starting."""
        return deleting(self.jobs.digests if self.jobs is not None else None, guild_id)

    async def _flush_privacy_log(self) -> None:
        try:
            unwritten = await self.privacy.flush()
        except Exception:  # the shutdown goes on
            log.exception("could not write the privacy requests missing from the privacy log")
            return
        if unwritten:
            log.error(
                "%d privacy request(s) made while the privacy log %s could not be written are still not in it: "
                "a database restored from a backup would not get them back",
                unwritten,
                self.settings.privacy_log_path,
            )

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        try:
            await super().start(token, reconnect=reconnect)
        except Exception:
            self._failed = True  # the shutdown that follows is not a clean one
            raise

    async def close(self) -> None:
        """Finish or interrupt answers, then close the gateway, the model client and the database."""
        if self._closing:
            return
        self._closing = True
        try:
            # One grace period for everything still running, waited for together: answers being written, the
            # reaction catch-up (it stops between answers once closing, so its database work is not cut off
            # mid-query), a catch-up digest and digests being made (their periods resume at the next start).
            grace = self.settings.shutdown_grace_seconds
            if self.jobs is not None:
                self.jobs.pause()  # no job starts from here on; those running (a purge, a digest) may finish
            await asyncio.gather(
                self._answerer.drain(grace) if self._answerer is not None else _nothing(),
                _finish_or_cancel(self._reactions_catch_up, grace),
                _finish_or_cancel(self._catch_up, grace),
                _finish_or_cancel(self._mending, grace),
                self.jobs.digests.wait_idle(grace) if self.jobs is not None else _nothing(),
                self.jobs.finish_running(grace) if self.jobs is not None else _nothing(),
            )
            if self.jobs is not None:
                self.jobs.shutdown()  # cancels a job still running after the grace period
                await self.jobs.digests.close()  # the digest worker processes
            if self._privacy is not None and self._storage is not None:
                await self._flush_privacy_log()
            await super().close()
            await self.model.close()
            if self._storage is not None:
                await self._storage.close()
        finally:
            if self._gc_thresholds is not None:
                unfreeze(self._gc_thresholds)  # what was frozen at start-up may be collected now
                self._gc_thresholds = None
        if not self._failed:
            log.info("shut down cleanly")
        elif self.set_up:
            log.info("shut down after an error (the reason follows)")
        else:
            log.info("start-up failed; shut down (the reason follows)")


async def _nothing() -> None:
    """An awaitable that does nothing, for a part of shutdown that has nothing to wait for."""


async def _finish_or_cancel(task: asyncio.Task[None] | None, grace: float) -> None:
    """Let a background task finish within `grace` seconds, then cancel it and wait until it has stopped."""
    if task is None:
        return
    await asyncio.wait({task}, timeout=grace)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
