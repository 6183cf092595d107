"""`culturebot sandbox`: the whole loop on one machine, without Discord or an API key.

The real bot runs against the Discord stand-in (on 127.0.0.1, a random port) on a demo server with
#ask, #digest and #mod-log, two members (ayu, budi) and a moderator (mod, Manage Server and the research
role). The model is the configured endpoint, or the embedded local model when none is configured, or with
`--model fake` a scripted stand-in for fast demos and tests. The terminal front end (bot/sandbox/
terminal.py) lets the user act as the members; `--script FILE` replays a conversation instead.

`python -m bot.sandbox.app` is the same as `culturebot sandbox`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bot.cli_paths import user_path
from bot.exit_status import EX_CONFIG, EXIT_INTERRUPTED, exit_status

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.llm.client import ModelClient
    from bot.sandbox.demo import DemoWorld
    from bot.sandbox.discord import DiscordStandIn
    from bot.scopes.document import ScopeDocument

DEFAULT_TEMPLATE = "indonesian-business-jakarta"
DEFAULT_OUT = Path("sandbox-digest")
READY_TIMEOUT = 60.0  # seconds for the bot to connect (migrations and command sync included)

ModelChoice = Literal["auto", "fake"]


class SandboxError(Exception):
    """The sandbox cannot start; the message says why and what to do. `retry`: starting it again as it is may
    succeed; its exit status says which, as every command's does (bot/exit_status.py)."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.status = exit_status(retry=retry)


@dataclass(frozen=True)
class SandboxOptions:
    scope: Path | None = None  # a scope file to start with
    # Else this shipped template (DEFAULT_TEMPLATE when not given; given, it replaces a kept database's scope).
    template: str | None = None
    db: Path | None = None  # keep the data here (default: a temporary folder, said on exit)
    script: Path | None = None  # replay this file instead of prompting
    out: Path = DEFAULT_OUT  # where /digest writes its files
    model: ModelChoice = "auto"  # "auto": configured endpoint or embedded model; "fake": scripted replies


@dataclass(frozen=True)
class SandboxPaths:
    """Where the sandbox keeps its files: the database, its pseudonym key, the log and scheduled digests."""

    db: Path
    key_file: Path
    log: Path
    digests: Path
    temporary: bool

    @classmethod
    def make(cls, db: Path | None) -> SandboxPaths:
        """A new temporary folder for everything, or, with `--db FILE`, everything beside FILE.

        With `--db` nothing goes to a temporary folder: the log and the scheduled digests would outlive
        the run there, unannounced, one folder per run.
        """
        if db is None:
            work = Path(tempfile.mkdtemp(prefix="culturebot-sandbox-"))
            return cls(work / "sandbox.sqlite3", work / "pseudonym.key", work / "sandbox.log", work / "digests", True)
        db = db.expanduser().absolute()
        # The key stays with the database: without it the stored pseudonyms match nobody next time.
        return cls(
            db,
            db.with_name(db.name + ".key"),
            db.with_name(db.name + ".log"),
            db.with_name(db.name + ".digests"),
            False,
        )


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    """The `culturebot sandbox` options."""
    parser.add_argument("--scope", type=user_path, metavar="FILE", help="start with this scope file")
    parser.add_argument(
        "--template",
        metavar="NAME",
        help=f"start with this shipped template from scopes/ when --scope is not given (default {DEFAULT_TEMPLATE}); "
        "with a kept --db, a --scope or --template given becomes its current scope, else it keeps its own",
    )
    parser.add_argument(
        "--db", type=user_path, metavar="FILE", help="keep the data in this file (default: a temporary one)"
    )
    parser.add_argument(
        "--script",
        type=user_path,
        metavar="FILE",
        help="replay these lines instead of prompting; exit 1 if a step fails",
    )
    parser.add_argument(
        "--out",
        type=user_path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"where /digest writes files (default ./{DEFAULT_OUT})",
    )
    parser.add_argument(
        "--model",
        choices=("auto", "fake"),
        default="auto",
        help="auto: the configured endpoint, else the embedded local model; fake: scripted replies for quick demos",
    )


def sandbox_main(args: argparse.Namespace) -> int:
    """Run the sandbox from parsed arguments; the exit status."""
    import asyncio

    options = SandboxOptions(
        scope=args.scope, template=args.template, db=args.db, script=args.script, out=args.out, model=args.model
    )
    try:
        return asyncio.run(run_sandbox(options))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


async def run_sandbox(options: SandboxOptions) -> int:
    """Start the stand-in, the model and the bot, run the front end, stop everything; the exit status."""
    from bot.config import SettingsError, database_path_problem
    from bot.digests.offline import out_folder_problem

    paths: SandboxPaths | None = None
    try:
        document = _starting_scope(options)
        _check_script(options.script)  # before anything is made: the database, its key, its log
        # A folder named with --out is checked now (else the first file saved, steps later, failed); the default one
        # only when a file is saved: a sandbox run in a read-only folder that never saves one still starts.
        if options.out != DEFAULT_OUT and (problem := out_folder_problem(options.out)) is not None:
            raise SandboxError(problem)
        if options.db is not None and (problem := database_path_problem(options.db.absolute())) is not None:
            # Before its lock file and log are made beside it, and named as the option the user typed.
            raise SandboxError(f"--db {problem}; choose another --db")
        paths = SandboxPaths.make(options.db)
        with _log_to_file(paths.log):
            return await _run(options, paths, document)
    except (SandboxError, SettingsError) as error:
        print(f"culturebot sandbox: {error}", file=sys.stderr)  # noqa: T201
        return error.status if isinstance(error, SandboxError) else EX_CONFIG
    finally:
        if paths is not None:
            _say_where_data_is(paths)


async def _run(options: SandboxOptions, paths: SandboxPaths, document: ScopeDocument) -> int:
    import sqlite3

    from bot.app import StartupError, load_pseudonymizer, setup_problem
    from bot.pseudonyms import KeyMismatch
    from bot.runtime import CultureBot
    from bot.sandbox.demo import build_demo_world
    from bot.sandbox.discord import DiscordStandIn
    from bot.sandbox.discord.testing import connected
    from bot.sandbox.render import Console
    from bot.sandbox.session import Session
    from bot.sandbox.terminal import run_front_end
    from bot.storage.privacy_log import PrivacyLogError

    console = Console()
    async with contextlib.AsyncExitStack() as stack:
        standin = await stack.enter_async_context(DiscordStandIn(bot_username="culturebot"))
        world = build_demo_world(standin)
        overrides = await stack.enter_async_context(_fake_model(options.model))
        settings = _settings(standin, paths, overrides)
        logging.getLogger().setLevel(settings.log_level.value)  # CULTUREBOT_LOG_LEVEL, for the log file
        explicit = options.scope is not None or options.template is not None
        scope_title = await _prepare_database(
            settings, world, document, explicit=explicit, from_file=options.scope is not None
        )
        try:
            if settings.uses_embedded_model:
                console.echo("Starting the embedded model (SmolLM2-135M via llama.cpp)…")
            model = await stack.enter_async_context(_model_client(settings))
            bot = CultureBot(settings, model=model, pseudonyms=load_pseudonymizer(settings))
            await stack.enter_async_context(connected(bot, standin, timeout=READY_TIMEOUT))
        except StartupError as error:
            hint = " (or try `--model fake` for scripted replies)" if options.model == "auto" else ""
            raise SandboxError(f"{error}{hint}", retry=error.retry) from None
        except (sqlite3.Error, PrivacyLogError, KeyMismatch) as error:  # raised by the bot's set-up, as `run` says
            raise SandboxError(str(setup_problem(settings, error))) from None
        except (TimeoutError, RuntimeError) as error:
            raise SandboxError(f"the bot did not start: {error}; see the log at {paths.log}", retry=True) from None
        console.echo(_banner(settings, options, paths, scope_title))
        session = Session(
            world,
            console,
            out_dir=options.out,
            answer_timeout=settings.answer_time_limit,
        )
        status = await run_front_end(session, options.script)
        console.echo("Stopping the bot…")
        return status
    raise AssertionError("unreachable")  # pragma: no cover - the stack's block always returns or raises


def _check_script(script: Path | None) -> None:
    """Refuse a `--script` that cannot be read as text, before anything starts."""
    if script is None:
        return
    try:
        script.read_text(encoding="utf-8")
    except OSError as error:
        raise SandboxError(f"cannot read the script {script}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise SandboxError(f"the script {script} is not UTF-8 text: save it as UTF-8") from None


def _starting_scope(options: SandboxOptions) -> ScopeDocument:
    """The scope document to start with, validated before anything starts."""
    from bot.scopes.parser import parse_scope, read_scope_file
    from bot.scopes.problems import ScopeValidationError
    from bot.scopes.templates import UnknownTemplateError, load_template

    try:
        if options.scope is not None:
            return parse_scope(read_scope_file(options.scope), source=str(options.scope))
        return load_template(options.template or DEFAULT_TEMPLATE)
    except OSError as error:
        raise SandboxError(f"cannot read the scope file {options.scope}: {error.strerror or error}") from None
    except UnknownTemplateError as error:
        raise SandboxError(str(error)) from None
    except ScopeValidationError as error:
        raise SandboxError(f"the scope is not valid:\n{error}") from None


@contextlib.asynccontextmanager
async def _fake_model(choice: ModelChoice) -> AsyncIterator[dict[str, Any]]:
    """With `--model fake`: the scripted model server, and the settings that point the bot at it."""
    if choice != "fake":
        yield {}
        return
    from bot.sandbox.demo import FAKE_MODEL_NAME, fake_reply
    from bot.sandbox.fake_openai import FakeOpenAI

    async with FakeOpenAI(model=FAKE_MODEL_NAME, default_reply=fake_reply) as fake:
        yield {"model_base_url": fake.base_url, "model_name": FAKE_MODEL_NAME, "model_api_key": None}


def _model_client(settings: Settings) -> contextlib.AbstractAsyncContextManager[ModelClient]:
    from bot.app import model_client

    return model_client(settings)


def _settings(standin: DiscordStandIn, paths: SandboxPaths, model_overrides: dict[str, Any]) -> Settings:
    """Settings from the environment and .env, pointed at the stand-in and the sandbox's files."""
    from bot.config import default_privacy_log, load_settings

    return load_settings(
        discord_token=standin.token,
        discord_api_base=standin.api_base,
        discord_gateway_url=standin.gateway_url,
        command_sync="global",
        guild_ready_timeout=0.1,
        database_path=paths.db,
        pseudonym_key_file=paths.key_file,
        # Its own, beside its database: a privacy log set in .env is the real bot's, whose members' requests
        # must neither be made in the demo database nor get the sandbox's made in the real one.
        privacy_log_file=default_privacy_log(paths.db),
        digest_dir=paths.digests,
        **model_overrides,
    )


async def _prepare_database(
    settings: Settings, world: DemoWorld, document: ScopeDocument, *, explicit: bool, from_file: bool
) -> str:
    """Declare the starting scope, name the digest and moderation log channels, and forget the last command
    sync (each run is a new Discord, which must receive the commands).

    A kept database keeps its scope unless `--scope` or `--template` names a different one (then it becomes a new
    version). Returns the scope in force, as the banner names it: its title and version.
    """
    from bot.runtime import COMMAND_HASH_KEY
    from bot.sandbox.demo import GUILD_NAME
    from bot.scopes.manage import store_document
    from bot.storage import ScopeSource, open_storage

    moderator_id = world.members[world.moderator]
    try:
        storage = await open_storage(settings)
    except Exception as error:
        raise SandboxError(f"cannot open the database {settings.database_path}: {error}") from None
    try:
        await storage.ensure_guild(world.guild_id, GUILD_NAME)
        current = await storage.current_scope(world.guild_id)
        if current is None or (explicit and current.content != document.source_text):
            source, summary = (
                (ScopeSource.UPLOAD, "the sandbox's --scope file")
                if from_file
                else (ScopeSource.TEMPLATE, "the sandbox's starting template")
            )
            current = (await store_document(storage, world.guild_id, moderator_id, document, source, summary)).version
        await storage.update_guild_settings(
            world.guild_id,
            moderator_id,
            {
                "digest_channel_id": world.channels["digest"],
                "log_channel_id": world.channels["mod-log"],
                "research_role_id": world.research_role_id,
            },
            detail="sandbox set-up",
        )
        await storage.set_state(COMMAND_HASH_KEY, "")
        return f"{current.title} (v{current.number})"
    finally:
        await storage.close()


def _banner(settings: Settings, options: SandboxOptions, paths: SandboxPaths, scope_title: str) -> str:
    from bot.sandbox.demo import GUILD_NAME

    if options.model == "fake":
        model = "scripted fake (--model fake): replies are canned, for trying the loop"
    elif settings.model_base_url is not None:
        model = f"{settings.model_name} at {settings.model_base_url}"
    else:
        model = "embedded SmolLM2-135M-Instruct (tiny: for trials, not research answers)"
    data = f"{paths.db}" + (" (temporary)" if paths.temporary else "")
    return "\n".join(
        [
            "culturebot sandbox: the real bot on a stand-in Discord, on this machine only.",
            f"Server “{GUILD_NAME}”: #ask (you are here), #digest, #mod-log; "
            "members ayu, budi, mod (Manage Server, research role).",
            f"Model: {model}",
            f"Scope: {scope_title}",
            f"Data: {data}; log: {paths.log}",
            "Type a question to ask culturebot as ayu, or /help for the commands.",
        ]
    )


def _say_where_data_is(paths: SandboxPaths) -> None:
    if not paths.db.is_file():
        return  # refused before the database was made (or a folder was named): there is no data to point to
    if paths.temporary:
        text = (
            f"The sandbox's data is in {paths.db} (a temporary folder; delete it when done, "
            "or pass --db FILE to keep data where you choose)."
        )
    else:
        from bot.config import default_privacy_log

        text = (
            f"The sandbox's data is kept in {paths.db} (pseudonym key: {paths.key_file}; log: {paths.log}; "
            f"privacy log: {default_privacy_log(paths.db)})."
        )
    print(text, flush=True)  # noqa: T201


@contextlib.contextmanager
def _log_to_file(path: Path) -> Iterator[None]:
    """The bot's log goes to a file (the terminal is the front end's); warnings from the bot are also shown."""
    from bot.logs import DATE_FORMAT, LOG_FORMAT, NOISY_AT_INFO, PRIVATE_AT_DEBUG, RedactingFormatter, quiet_libraries

    root = logging.getLogger()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or error
        raise SandboxError(f"cannot write the log file {path}: {reason}; choose another --db") from None
    handler.setFormatter(RedactingFormatter(LOG_FORMAT, DATE_FORMAT))  # as the bot's own log: no tokens in URLs
    shown = _ConsoleWarnings()
    previous = root.level
    # Log lines on the terminal would garble the prompt: handlers writing there step aside meanwhile.
    terminal = [h for h in root.handlers if isinstance(h, logging.StreamHandler) and h.stream in _TERMINAL_STREAMS]
    for existing in terminal:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.addHandler(shown)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    # As the bot's own log (bot/logs.py): no request lines, and no members' text even at DEBUG.
    quiet = {name: logging.getLogger(name).level for name in (*PRIVATE_AT_DEBUG, *NOISY_AT_INFO)}
    quiet_libraries(root.level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.removeHandler(shown)
        for existing in terminal:
            root.addHandler(existing)
        root.setLevel(previous)
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
        handler.close()


_TERMINAL_STREAMS = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)


class _ConsoleWarnings(logging.Handler):
    """Shows the bot's warnings and anyone's errors in the terminal, one line each."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or record.name.startswith(("bot.", "cogs."))

    def emit(self, record: logging.LogRecord) -> None:
        from bot.logs import redact_tokens

        line = redact_tokens(record.getMessage().splitlines()[0])
        print(f"  ! {record.levelname.lower()}: {line}", flush=True)  # noqa: T201


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="culturebot sandbox",
        description="Run the whole loop on this machine: the real bot on a stand-in Discord, in the terminal.",
    )
    add_sandbox_arguments(parser)
    return sandbox_main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
