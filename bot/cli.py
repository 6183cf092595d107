"""The `culturebot` command line: `run`, `migrate`; every failure is one line on stderr."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bot.config import Settings, SettingsError, load_settings
from bot.logs import setup_logging
from bot.sandbox.app import add_sandbox_arguments, sandbox_main
from bot.scopes.validate_cli import validate_paths
from bot.storage import MigrationError, open_storage
from bot.storage.migrations import load_migrations


class CliError(Exception):
    """A failure to report as one line."""


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
    scope = commands.add_parser("scope", help="work with cultural scope files")
    scope_commands = scope.add_subparsers(dest="scope_command", metavar="SCOPE_COMMAND", required=True)
    validate = scope_commands.add_parser("validate", help="check scope files and report every problem")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="scope files or folders of them")
    digest = commands.add_parser("digest", help="write a digest's report, chart and data files without Discord")
    digest.add_argument("--db", type=Path, required=True, help="the culturebot database file")
    digest.add_argument("--guild", type=int, required=True, help="the server id")
    digest.add_argument("--from", dest="first", type=_day, required=True, help="first day, YYYY-MM-DD")
    digest.add_argument("--to", dest="last", type=_day, required=True, help="last day, YYYY-MM-DD (inclusive)")
    digest.add_argument("--out", type=Path, required=True, help="folder for the files (created if missing)")
    digest.add_argument("--timezone", default="UTC", help="time zone of the dates (default UTC)")
    return parser


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sandbox":
        return sandbox_main(args)  # prints its own errors and returns its status
    try:
        if args.command == "migrate":
            settings = load_settings(**({"database_path": args.db} if args.db else {}))
            setup_logging(settings.log_level)
            print(asyncio.run(migrate(settings)))
        elif args.command == "scope":
            valid, report = validate_paths(args.paths)
            print(report)
            return 0 if valid else 1
        elif args.command == "digest":
            print(asyncio.run(run_offline_digest(args)))
        elif args.command == "run":
            settings = load_settings()
            setup_logging(settings.log_level)
            run(settings)
    except (SettingsError, MigrationError, CliError) as error:
        print(f"culturebot: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


async def migrate(settings: Settings) -> str:
    """Apply pending migrations; a line saying what was done."""
    storage = await open_storage(settings, migrate=False)
    try:
        applied = await storage.migrate()
    finally:
        await storage.close()
    version = len(load_migrations())
    if not applied:
        return f"{settings.database_path}: up to date at schema version {version}"
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied)
    return f"{settings.database_path}: applied {names}; now at schema version {version}"


async def run_offline_digest(args: argparse.Namespace) -> str:
    from bot.digests.offline import day_period, offline_digest
    from bot.digests.schedule import make_trigger
    from bot.errors import UserFacingError

    if args.last < args.first:
        raise CliError("--to must be on or after --from")
    try:
        make_trigger("weekly", args.timezone)
    except UserFacingError as error:
        raise CliError(str(error)) from None
    try:
        files, attached = await offline_digest(
            args.db, args.guild, day_period(args.first, args.last, args.timezone), args.out
        )
    except FileNotFoundError as error:
        raise CliError(str(error)) from None
    paths = sorted({*attached, *files.exports})
    return f"wrote {len(paths)} files to {args.out}:\n" + "\n".join(f"  {path}" for path in paths)


def run(settings: Settings) -> None:
    from bot.app import StartupError, run_bot

    try:
        asyncio.run(run_bot(settings))
    except StartupError as error:
        raise CliError(str(error)) from None


if __name__ == "__main__":
    sys.exit(main())
