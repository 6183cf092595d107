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
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.cli_paths import user_path
from bot.config import Settings, SettingsError, load_settings
from bot.exit_status import EX_CONFIG, EXIT_FAILED, EXIT_INTERRUPTED, exit_status
from bot.logs import setup_logging
from bot.sandbox.app import add_sandbox_arguments, sandbox_main
from bot.scopes.validate_cli import validate_paths
from bot.storage import MigrationError, open_storage
from bot.storage.instance_lock import DatabaseLock, InstanceLockError, lock_database
from bot.storage.migrations import load_migrations

if TYPE_CHECKING:
    from bot.digests.moments import Moment


class CliError(Exception):
    """A failure to report as one line; `retry`: running the command again as it is may succeed."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.status = exit_status(retry=retry)


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
    migrate.add_argument("--db", type=user_path, help="database file (default: CULTUREBOT_DATABASE_PATH)")
    backup = commands.add_parser(
        "backup", help="copy the database, consistently even while the bot runs, to a new file"
    )
    backup.add_argument("--out", type=user_path, required=True, help="the backup file to write (must not exist yet)")
    backup.add_argument("--db", type=user_path, help="database file (default: CULTUREBOT_DATABASE_PATH)")
    scope = commands.add_parser("scope", help="work with cultural scope files")
    scope_commands = scope.add_subparsers(dest="scope_command", metavar="SCOPE_COMMAND", required=True)
    validate = scope_commands.add_parser("validate", help="check scope files and report every problem")
    validate.add_argument("paths", nargs="+", type=user_path, metavar="PATH", help="scope files or folders of them")
    digest = commands.add_parser(
        "digest",
        help="write a digest's report, chart and data files without Discord",
        description="Write a digest's report, chart and data files from a database file, without Discord. The "
        "period runs from --from to --to, each a date or a date and time: a date is a whole day (--from from its "
        "start, --to up to its end, included); a date and time is an exact instant (--from included, --to "
        "excluded, as a digest's period end). Times are read in --timezone unless they end with a UTC offset or Z. "
        "A time the clocks skipped or repeated on a daylight-saving change is refused: give it with its offset. "
        "To reproduce a posted digest, give --from and --to its period's start and end as dates and times (`start` "
        "and `end` in its digest.json, in UTC), --timezone its server's time zone (`day_basis` there) and "
        "--feedback-until its period's end again: a scheduled digest counts the feedback given until then; "
        "--compare-from the start of the period it was compared with (`previous.start` there). The report's "
        "Provenance section gives the whole command.",
    )
    digest.add_argument(
        "--db", type=user_path, required=True, help="the culturebot database file (only read, never changed)"
    )
    digest.add_argument("--guild", type=_server_id, required=True, help="the server id")
    digest.add_argument(
        "--from",
        dest="first",
        type=_moment,
        required=True,
        metavar=MOMENT,
        help="the period's start: a date, YYYY-MM-DD (from the start of that day), or a date and time, "
        "YYYY-MM-DDTHH:MM or 'YYYY-MM-DD HH:MM' (from that instant, included), with an optional UTC offset "
        "(+07:00) or Z",
    )
    digest.add_argument(
        "--to",
        dest="last",
        type=_moment,
        required=True,
        metavar=MOMENT,
        help="the period's end: a date (up to the end of that day, included) or a date and time (up to that "
        "instant, excluded: a digest's period end), as --from",
    )
    digest.add_argument("--out", type=user_path, required=True, help="folder for the files (created if missing)")
    digest.add_argument(
        "--timezone",
        help="time zone of the dates and times without an offset, and of the days fit over time counts (default: "
        "the server's digest time zone in --db, as its digests use; UTC when none is set)",
    )
    digest.add_argument(
        "--compare-from",
        dest="compare_from",
        type=_moment,
        metavar=MOMENT,
        help="where the period compared with starts (it ends at --from), as --from (default: the server's schedule's "
        "interval before --from when the period is one of its intervals, else the equally long span before it)",
    )
    digest.add_argument(
        "--feedback-until",
        dest="feedback_until",
        type=_moment,
        metavar=MOMENT,
        help="count the ratings and comments given up to the end of this day, or before this date and time, as "
        "--from; not before --to's end (default: now, so feedback given after --to on the period's answers counts "
        "as it stands today; give --to's value for what a digest sent at the period's end had)",
    )
    return parser


MOMENT = "DATE[THH:MM]"  # the --from, --to and --feedback-until values in usage lines


def _moment(text: str) -> Moment:
    from bot.digests.moments import MomentError, parse_moment  # only for `digest`: it loads the scheduler

    try:
        return parse_moment(text)
    except MomentError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
            settings = _settings_with_db(args.db)
            setup_logging(settings.log_level)
            # A running bot would go on with its statements against tables a migration rebuilds.
            with _lock(settings.database_path, "stop it first (it applies migrations itself when it starts)"):
                print(asyncio.run(migrate(settings)))
        elif args.command == "backup":
            settings = _settings_with_db(args.db)
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


def _settings_with_db(db: Path | None) -> Settings:
    """The settings, with `--db` as the database when given: a problem with it is said of `--db`, which the operator
    typed, not of CULTUREBOT_DATABASE_PATH."""
    if db is None:
        return load_settings()
    try:
        return load_settings(database_path=db)
    except SettingsError as error:
        raise SettingsError(str(error).replace("CULTUREBOT_DATABASE_PATH", "--db")) from None


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
        raise CliError(str(error), retry=error.retry) from None
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
    from bot.digests.offline import OfflineDigestError, offline_digest, server_timezone
    from bot.digests.schedule import Period, check_day_range, parse_timezone
    from bot.errors import UserFacingError

    first, last, until = args.first, args.last, args.feedback_until
    days = first.whole_day and last.whole_day  # whole days: checked and echoed as dates, before the time zone
    if days:
        try:
            check_day_range(first.value, last.value, start="--from", end="--to")
        except UserFacingError as error:
            raise CliError(str(error).rstrip(".")) from None
    if days and until is not None and until.whole_day and until.value < last.value:
        raise CliError(
            f"--feedback-until {until.text} is before --to {last.text}: give --to's date or a later one "
            "(or leave it out to count the feedback given until now)"
        )
    if args.timezone is None:  # the server's, as its digests count days
        try:
            timezone = await server_timezone(args.db, args.guild)
        except OfflineDigestError as error:
            raise CliError(str(error), retry=error.retry) from None
    else:
        try:
            # As a saved schedule's zone is read: a report's provenance gives the zone its days were counted in,
            # which may be one an earlier version let moderators save (EST, Etc/GMT-7), for making it again.
            timezone = parse_timezone(args.timezone, saved=True)
        except UserFacingError as error:
            raise CliError(f"--timezone: {error}") from None
    zone = ZoneInfo(timezone)
    try:
        start = _instant(first, zone, "--from")
        end = _instant(last, zone, "--to", end_of_day=True)
        feedback_before = None
        if until is not None:
            feedback_before = _instant(until, zone, "--feedback-until", end_of_day=True)
        compare_from = None if args.compare_from is None else _instant(args.compare_from, zone, "--compare-from")
    except OverflowError:
        raise CliError(
            "--from, --to, --compare-from or --feedback-until is out of range; give dates between 0002 and 9998 (and "
            "a --from late enough for the period as long before it, compared with, to begin after the year 1)"
        ) from None
    if compare_from is not None and compare_from >= start:
        raise CliError(
            f"--compare-from {_as_read(args.compare_from, compare_from, zone)} is not before --from "
            f"{_as_read(first, start, zone)}: the period compared with ends where this one starts"
        )
    to = _as_read(last, end, zone, end_of_day=True)
    if end <= start:
        raise CliError(
            f"--to {to} is not after --from {_as_read(first, start, zone)}: a period ends after it starts; give a "
            "later --to (or swap them)"
        )
    if feedback_before is not None and feedback_before < end:
        raise CliError(
            f"--feedback-until {_as_read(until, feedback_before, zone, end_of_day=True)} is before the period's "
            f"end, --to {to}: give --to's value or a later one (or leave it out to count the feedback given until now)"
        )
    try:
        made = await offline_digest(
            args.db,
            args.guild,
            Period(start, end),
            args.out,
            feedback_before=feedback_before,
            timezone=timezone,
            compare_from=compare_from,
        )
    except OfflineDigestError as error:
        raise CliError(str(error), retry=error.retry) from None
    when = f"{first.text} to {last.text} {timezone}" if days else _period_read(start, end, zone)
    return (
        f"wrote {len(made.written)} files to {args.out} (server {args.guild}, {when}, with the ratings and comments "
        f"given before {made.feedback_before}):\n" + "\n".join(f"  {path}" for path in made.written)
    )


def _instant(moment: Moment, zone: ZoneInfo, option: str, *, end_of_day: bool = False) -> datetime:
    """The instant `moment` names in `zone` (`bot.digests.moments.instant`), or a CliError naming `option`."""
    from bot.digests.moments import MomentError, instant

    try:
        return instant(moment, zone, end_of_day=end_of_day)
    except MomentError as error:  # a time the clocks skipped or repeated there
        raise CliError(f"{option} {error}") from None


def _as_read(moment: Moment, at: datetime, zone: ZoneInfo, *, end_of_day: bool = False) -> str:
    """A moment as typed and the instant it was read as, for messages: '2026-11-16T02:00Z (2026-11-16 09:00
    Asia/Jakarta)', '2026-11-22 (up to 2026-11-23 00:00 Asia/Jakarta)'."""
    from bot.digests.moments import local_time

    if not moment.whole_day:
        return f"{moment.text} ({local_time(at, zone)})"
    return f"{moment.text} ({'up to' if end_of_day else 'from'} {local_time(at, zone)})"


def _period_read(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    from bot.digests.moments import local_time

    return f"{local_time(start, zone)} to {local_time(end, zone)} (end excluded)"


def run(settings: Settings) -> None:
    from bot.app import StartupError, run_bot

    try:
        asyncio.run(run_bot(settings))
    except StartupError as error:
        raise CliError(str(error), retry=error.retry) from None


if __name__ == "__main__":
    sys.exit(main())
