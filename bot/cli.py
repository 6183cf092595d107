"""The `culturebot` command line: `run`, `migrate`, `backup`, `sandbox`, `scope validate`, `digest`; every failure is
one line on stderr, and its exit status says whether running the command again as it is may succeed (README,
Deployment): `EXIT_FAILED` when it may (Discord unreachable), `EX_CONFIG` when something must change first (the
settings, an option, a file, another culturebot holding the database)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bot.config import Settings, SettingsError, load_settings
from bot.logs import setup_logging
from bot.sandbox.app import add_sandbox_arguments, sandbox_main
from bot.scopes.validate_cli import validate_paths
from bot.storage import MigrationError, open_storage
from bot.storage.instance_lock import DatabaseLock, InstanceLockError, lock_database
from bot.storage.migrations import load_migrations

# Exit statuses. A supervisor restarts the bot after EXIT_FAILED (as after a crash's traceback, which exits 1 too);
# the README's systemd unit does not after EX_CONFIG (RestartPreventExitStatus=78): restarting cannot help there.
EXIT_FAILED = 1  # a later try may succeed with nothing changed; also `scope validate` finding problems
EX_CONFIG = 78  # sysexits.h: refused until the configuration, an option or a file is changed
EXIT_INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """A failure to report as one line; `retry`: running the command again as it is may succeed."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.status = EXIT_FAILED if retry else EX_CONFIG


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="culturebot",
        description="A Discord bot that answers within a community's declared cultural scope and "
        "collects members' judgements of fit for research.",
        epilog="Configuration comes from CULTUREBOT_* environment variables and .env; see .env.example.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("run", help="connect to Discord and serve (applies migrations first)")
    sandbox = commands.add_parser(
        "sandbox", help="try the whole loop on this machine: the real bot on a stand-in Discord, in the terminal"
    )
    add_sandbox_arguments(sandbox)
    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--db", type=Path, help="database file (default: CULTUREBOT_DATABASE_PATH)")
    backup = commands.add_parser(
        "backup", help="copy the database, consistently even while the bot runs, to a new file"
    )
    backup.add_argument("--out", type=Path, required=True, help="the backup file to write (must not exist yet)")
    backup.add_argument("--db", type=Path, help="database file (default: CULTUREBOT_DATABASE_PATH)")
    scope = commands.add_parser("scope", help="work with cultural scope files")
    scope_commands = scope.add_subparsers(dest="scope_command", metavar="SCOPE_COMMAND", required=True)
    validate = scope_commands.add_parser("validate", help="check scope files and report every problem")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scope files or folders of them")
    digest = commands.add_parser("digest", help="write a digest's report, chart and data files without Discord")
    digest.add_argument(
        "--db", type=Path, required=True, help="the culturebot database file (only read, never changed)"
    )
    digest.add_argument("--guild", type=_server_id, required=True, help="the server id")
    digest.add_argument("--from", dest="first", type=_day, required=True, help="first day, YYYY-MM-DD")
    digest.add_argument("--to", dest="last", type=_day, required=True, help="last day, YYYY-MM-DD (inclusive)")
    digest.add_argument("--out", type=Path, required=True, help="folder for the files (created if missing)")
    digest.add_argument("--timezone", default="UTC", help="time zone of the dates (default UTC)")
    digest.add_argument(
        "--feedback-until",
        dest="feedback_until",
        type=_day,
        metavar="DATE",
        help="count the ratings and comments given up to the end of this day, YYYY-MM-DD, on or after --to "
        "(default: now, so feedback given after --to on the period's answers counts as it stands today; "
        "give the --to date for what a digest sent at the period's end had)",
    )
    return parser


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


SQLITE_MAX_INTEGER = 2**63 - 1  # SQLite integers are signed 64-bit


def _server_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 0 < value <= SQLITE_MAX_INTEGER:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a server id: give the server's id, a whole number from 1 to {SQLITE_MAX_INTEGER}"
        )
    return value


# The commands that write research data (members' questions, answers and comments): what they create is the bot
# user's alone, whatever umask the shell or supervisor gave (the data folder 0700, the database and its -wal and
# -shm files, digests and backups 0600).
WRITES_RESEARCH_DATA = frozenset({"run", "sandbox", "migrate", "backup", "digest"})
PRIVATE_UMASK = 0o077


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in WRITES_RESEARCH_DATA:
        return _main(args)
    previous = os.umask(PRIVATE_UMASK)
    try:
        return _main(args)
    finally:
        os.umask(previous)


def _main(args: argparse.Namespace) -> int:
    if args.command == "sandbox":
        return sandbox(args)  # prints its own errors and returns its status
    try:
        if args.command == "migrate":
            settings = load_settings(**({"database_path": args.db} if args.db else {}))
            setup_logging(settings.log_level)
            # A running bot would go on with its statements against tables a migration rebuilds.
            with _lock(settings.database_path, "stop it first (it applies migrations itself when it starts)"):
                print(asyncio.run(migrate(settings)))
        elif args.command == "backup":
            settings = load_settings(**({"database_path": args.db} if args.db else {}))
            print(backup(settings, args.out, from_option=args.db is not None))
        elif args.command == "scope":
            valid, report = validate_paths(args.paths)
            print(report)
            return 0 if valid else EXIT_FAILED
        elif args.command == "digest":
            print(asyncio.run(run_offline_digest(args)))
        elif args.command == "run":
            settings = load_settings()
            setup_logging(settings.log_level)
            run(settings)
    except CliError as error:
        print(f"culturebot: {error}", file=sys.stderr)
        return error.status
    except (SettingsError, MigrationError) as error:
        print(f"culturebot: {error}", file=sys.stderr)
        return EX_CONFIG
    except sqlite3.Error as error:  # not a database, locked, a directory it cannot write its journal in
        print(f"culturebot: cannot use the database: {error}", file=sys.stderr)
        return EX_CONFIG
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0


def _lock(database: Path, fix: str) -> DatabaseLock:
    """This process's hold on the database (`bot/storage/instance_lock.py`), or a CliError saying what to do."""
    try:
        return lock_database(database, fix=fix)
    except InstanceLockError as error:
        raise CliError(str(error)) from None


def sandbox(args: argparse.Namespace) -> int:
    """`culturebot sandbox`; with `--db FILE`, only while no bot (or other sandbox) uses that database."""
    if args.db is None:  # its own temporary folder
        return sandbox_main(args)
    try:
        lock = lock_database(
            args.db.expanduser().absolute(),
            fix="stop it first, or give the sandbox another --db",
            fix_unlockable="choose another --db",
        )
    except InstanceLockError as error:
        print(f"culturebot sandbox: {error}", file=sys.stderr)
        return EX_CONFIG
    with lock:
        return sandbox_main(args)


async def migrate(settings: Settings) -> str:
    """Apply pending migrations; a line saying what was done."""
    try:
        storage = await open_storage(settings, migrate=False)
        try:
            applied = await storage.migrate()
        finally:
            await storage.close()
    except sqlite3.Error as error:
        raise CliError(f"cannot use the database {settings.database_path}: {error}") from None
    version = len(load_migrations())
    if not applied:
        return f"{settings.database_path}: up to date at schema version {version}"
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied)
    return f"{settings.database_path}: applied {names}; now at schema version {version}"


def backup(settings: Settings, out: Path, *, from_option: bool) -> str:
    """Back the database up to `out`; what was written, and where the pseudonymisation key is to back up too."""
    from bot.storage.sqlite.backup import BackupError, SourceMissing, backup_database

    try:
        made = backup_database(settings.database_path, out)
    except SourceMissing as error:
        where = "check --db" if from_option else "run it where the bot runs, set CULTUREBOT_DATABASE_PATH or give --db"
        raise CliError(f"{error}; {where}") from None
    except BackupError as error:
        raise CliError(str(error)) from None
    key_file = settings.pseudonym_key_file.absolute()
    if settings.pseudonym_key is not None:  # its value is never printed
        key = "it is the value of CULTUREBOT_PSEUDONYM_KEY: keep a copy of that value"
    elif key_file.is_file():
        key = f"it is in the file {key_file}: copy that file"
    else:
        key = (
            f"it would be in the file {key_file}, which is not there: find the key the bot uses "
            "(CULTUREBOT_PSEUDONYM_KEY or CULTUREBOT_PSEUDONYM_KEY_FILE where it runs) and keep a copy of it"
        )
    return (
        f"backed up {made.source} to {made.out}: {_size(made.size)}, schema version {made.schema_version}, "
        "integrity ok\n"
        f"The pseudonymisation key is not in the backup; {key} apart from the backup, "
        "and restore it with the backup (without it the pseudonyms in the data match no member).\n"
        f"To restore, replace the database file only: leave the privacy log {settings.privacy_log_path.absolute()} "
        "where it is; the bot makes again from it the consent decisions and forget requests made after this "
        f"backup. It keeps them {settings.privacy_log_days} days: restore no older backup."
    )


def _size(size: int) -> str:
    return f"{size:,} bytes" if size < 1_000_000 else f"{size / 1_000_000:,.1f} MB"


async def run_offline_digest(args: argparse.Namespace) -> str:
    from bot.digests.offline import OfflineDigestError, day_period, offline_digest
    from bot.digests.schedule import check_day_range, parse_timezone
    from bot.errors import UserFacingError

    try:
        check_day_range(args.first, args.last, start="--from", end="--to")
    except UserFacingError as error:
        raise CliError(str(error).rstrip(".")) from None
    if args.feedback_until is not None and args.feedback_until < args.last:
        raise CliError(
            f"--feedback-until {args.feedback_until} is before --to {args.last}: give --to's date or a later one "
            "(or leave it out to count the feedback given until now)"
        )
    try:
        timezone = parse_timezone(args.timezone)
    except UserFacingError as error:
        raise CliError(f"--timezone: {error}") from None
    try:
        period = day_period(args.first, args.last, timezone)
        feedback_before = None
        if args.feedback_until is not None:
            feedback_before = day_period(args.feedback_until, args.feedback_until, timezone).end
    except OverflowError:
        raise CliError("--from, --to or --feedback-until is out of range; give dates between 0002 and 9998") from None
    try:
        made = await offline_digest(
            args.db, args.guild, period, args.out, feedback_before=feedback_before, timezone=timezone
        )
    except OfflineDigestError as error:
        raise CliError(str(error)) from None
    return (
        f"wrote {len(made.written)} files to {args.out} (server {args.guild}, {args.first} to {args.last} "
        f"{timezone}, with the ratings and comments given before {made.feedback_before}):\n"
        + "\n".join(f"  {path}" for path in made.written)
    )


def run(settings: Settings) -> None:
    from bot.app import StartupError, run_bot

    try:
        asyncio.run(run_bot(settings))
    except StartupError as error:
        raise CliError(str(error), retry=error.retry) from None


if __name__ == "__main__":
    sys.exit(main())
