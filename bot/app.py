"""Assemble and run the bot process: settings, model (hosted or embedded), Discord client, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
from collections.abc import AsyncIterator

import discord

from bot.config import CommandSync, Settings
from bot.llm.client import ModelClient
from bot.pseudonyms import KeyMismatch, Pseudonymizer, load_or_create_key
from bot.runtime import CultureBot
from bot.storage.instance_lock import DatabaseLock, InstanceLockError, lock_database
from bot.storage.privacy_log import PrivacyLogError

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Start-up cannot go on; the message tells the operator what to do. `retry`: a later start may succeed with
    nothing changed (Discord unreachable, say); otherwise it is refused until the operator changes something."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


def check_can_start(settings: Settings) -> str:
    """The Discord token, or a StartupError saying what to set."""
    if settings.discord_token is None:
        raise StartupError(
            "CULTUREBOT_DISCORD_TOKEN is not set: create a bot in the Discord developer portal and put its "
            "token in .env (see README, 'Create the Discord application'), or try everything locally first "
            "with `culturebot sandbox`"
        )
    return settings.discord_token.get_secret_value()


def load_pseudonymizer(settings: Settings) -> Pseudonymizer:
    try:
        key, created = load_or_create_key(settings)
        return Pseudonymizer(key, new_key_file=settings.pseudonym_key_file if created else None)
    except ValueError as error:
        if settings.pseudonym_key is not None:  # pragma: no cover - its length is checked with the settings
            raise StartupError(f"cannot use the pseudonymisation key (CULTUREBOT_PSEUDONYM_KEY): {error}") from None
        # Not hexadecimal, too short, or not text at all: a damaged file.
        raise StartupError(
            f"the pseudonymisation key file {settings.pseudonym_key_file} must hold the hexadecimal key culturebot "
            "wrote there, and does not: restore it from your backup (do not make a new one: every member's "
            "pseudonym would change, and their stored data would no longer match them)"
        ) from None
    except OSError as error:
        source = "CULTUREBOT_PSEUDONYM_KEY" if settings.pseudonym_key is not None else settings.pseudonym_key_file
        raise StartupError(f"cannot use the pseudonymisation key ({source}): {error}") from None


def lock_the_database(settings: Settings) -> DatabaseLock:
    """This process's hold on the database, or a StartupError when another culturebot uses it."""
    try:
        return lock_database(
            settings.database_path, fix="stop it first, or give this one its own CULTUREBOT_DATABASE_PATH"
        )
    except InstanceLockError as error:
        raise StartupError(str(error)) from None


async def run_bot(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM (clean shutdown) or a fatal error (raised as StartupError)."""
    token = check_can_start(settings)
    async with contextlib.AsyncExitStack() as stack:
        # Before anything is written (the key file, migrations, marking the answers a crash cut off): a second bot
        # on the same database would mark the first one's live answers as cut off, and both would answer.
        stack.enter_context(lock_the_database(settings))
        pseudonyms = load_pseudonymizer(settings)
        model = await stack.enter_async_context(model_client(settings))
        bot = CultureBot(settings, model=model, pseudonyms=pseudonyms)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        runner = asyncio.create_task(bot.start(token), name="discord")
        stopper = asyncio.create_task(stop.wait(), name="signals")
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            log.info("signal received: finishing answers in flight, then shutting down")
            if not bot.set_up:
                # Still logging in or setting up (migrations, command sync, a rate limit's wait): nothing is being
                # answered yet, so setting up stops here rather than going on against a closed client.
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
        stopper.cancel()
        await bot.close()
        try:
            if not runner.cancelled():
                await runner
        except discord.LoginFailure:
            raise StartupError("Discord rejected CULTUREBOT_DISCORD_TOKEN; copy the bot token again") from None
        except discord.PrivilegedIntentsRequired:
            raise StartupError(
                "Discord refused the Message Content intent: switch it on for the bot in the Developer Portal "
                "(Bot, Privileged Gateway Intents), or set CULTUREBOT_MESSAGE_CONTENT_INTENT=false"
            ) from None
        except (OSError, discord.GatewayNotFound, discord.ConnectionClosed) as error:
            raise StartupError(f"cannot reach Discord at {settings.discord_api_base}: {error}", retry=True) from None
        except discord.HTTPException as error:
            where = (
                " (syncing slash commands to CULTUREBOT_DEV_GUILD_IDS: is the bot in those servers?)"
                if settings.command_sync is CommandSync.GUILD
                else ""
            )
            raise StartupError(
                f"Discord refused a request at start-up{where}: {error.status} {error.text or error}",
                retry=error.status >= 500 or error.status == 429,  # Discord's trouble, not the request's
            ) from None
        except (sqlite3.Error, PrivacyLogError, KeyMismatch) as error:
            raise setup_problem(settings, error) from None


def setup_problem(settings: Settings, error: sqlite3.Error | PrivacyLogError | KeyMismatch) -> StartupError:
    """What to tell the operator when the bot's set-up (the database, the privacy log, the key) refuses to start:
    one line, and never worth retrying unchanged (shared by `culturebot run` and the sandbox)."""
    if isinstance(error, sqlite3.Error):
        return StartupError(database_problem(settings, error))
    if isinstance(error, PrivacyLogError):
        return StartupError(str(error))
    if error.missing_key_file is not None:
        return StartupError(
            f"the pseudonymisation key file {error.missing_key_file} is not there, and the pseudonyms in "
            f"{settings.database_path} were made with a key: restore the file from your backup, or point "
            "CULTUREBOT_PSEUDONYM_KEY_FILE at it (a new key would stop every member's data matching them; the one "
            "made just now was removed again)."
        )
    source = "CULTUREBOT_PSEUDONYM_KEY" if settings.pseudonym_key else str(settings.pseudonym_key_file)
    return StartupError(
        f"the pseudonymisation key ({source}) is not the one the pseudonyms in {settings.database_path} were "
        "made with: restore the key from your backup (a new key would stop every member's data matching them)."
    )


def database_problem(settings: Settings, error: sqlite3.Error) -> str:
    """What to tell the operator when SQLite refuses the database."""
    text = f"cannot use the database {settings.database_path}: {error}"
    if isinstance(error, sqlite3.OperationalError) and "unable to open database file" in str(error):
        folder = settings.database_path.absolute().parent
        text += (
            f" (SQLite writes its -wal and -shm files beside the database: the folder {folder} must be writable "
            "by this user too, and any -wal and -shm files there readable and writable)"
        )
    return text


@contextlib.asynccontextmanager
async def model_client(settings: Settings) -> AsyncIterator[ModelClient]:
    """The configured endpoint, or the embedded local model started as a child process."""
    if settings.model_base_url is not None:
        api_key = settings.model_api_key.get_secret_value() if settings.model_api_key else None
        client = client_for(settings, str(settings.model_base_url), api_key, settings.model_name)
        try:
            if (problem := await client.endpoint_problem()) is not None:
                raise StartupError(problem)
        except BaseException:  # refused, or a signal during the check
            await client.close()
            raise
        yield client
        return
    from bot.llm.local_server import LocalModelError, LocalModelServer, LocalModelStartError

    try:
        server = LocalModelServer(
            settings.local_model_path,
            n_ctx=settings.local_model_context,
            n_threads=settings.local_model_threads,
        )
        await server.start()
    except LocalModelError as error:
        # A missing package or model file is refused; a server that died or was slow to start may start next time.
        raise StartupError(str(error), retry=isinstance(error, LocalModelStartError)) from None
    log.info("embedded model %s serving at %s", server.model, server.base_url)
    try:
        yield client_for(settings, server.base_url, None, server.model)
    finally:
        await server.stop()


def client_for(settings: Settings, base_url: str, api_key: str | None, model: str) -> ModelClient:
    """A model client for an endpoint, with the timeouts, retries and sampling the settings give."""
    return ModelClient(
        base_url=base_url,
        api_key=api_key,
        model=model,
        timeout=settings.model_timeout_seconds,
        max_retries=settings.model_max_retries,
        max_tokens=settings.model_max_tokens,
        temperature=settings.model_temperature,
    )
