"""Numbered SQL migrations: `migrations/NNNN_name.sql`, applied in order, each in its own transaction.

The runner records each applied version with the SHA-256 of its file. It refuses to run when an
applied file has changed since (the schema would silently differ from the code's) or when the
database has versions this code does not know (it was migrated by a newer culturebot).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The database and the code's migrations disagree; the message says how."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read every migration file in `directory`, ordered by version; reject gaps and stray files."""
    if not directory.is_dir():
        raise MigrationError(f"migrations folder not found at {directory}; reinstall culturebot")
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        # Normalise line endings so a checkout with CRLF does not look like a changed migration.
        text = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
        migrations.append(
            Migration(
                version=int(match["version"]),
                name=match["name"],
                sql=text,
                checksum=hashlib.sha256(text.encode()).hexdigest(),
            )
        )
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name}.sql is out of sequence: "
                f"expected version {expected:04d}"
            )
    return migrations


async def applied_versions(conn: aiosqlite.Connection) -> dict[int, str]:
    """Version -> checksum of every migration already applied to this database."""
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version    INTEGER PRIMARY KEY,
               name       TEXT NOT NULL,
               checksum   TEXT NOT NULL,
               applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
           )"""
    )
    async with conn.execute("SELECT version, checksum FROM schema_migrations") as cursor:
        return {int(row[0]): str(row[1]) for row in await cursor.fetchall()}


def check_history(applied: dict[int, str], migrations: list[Migration]) -> list[Migration]:
    """Return the migrations still to apply, or raise if the applied ones disagree with the files."""
    known = {migration.version: migration for migration in migrations}
    unknown = sorted(version for version in applied if version not in known)
    if unknown:
        raise MigrationError(
            f"the database is at schema version {max(applied)}, newer than this culturebot knows "
            f"({len(migrations)}); upgrade culturebot or use a backup made for this version"
        )
    for version, checksum in sorted(applied.items()):
        migration = known[version]
        if migration.checksum != checksum:
            raise MigrationError(
                f"migration {version:04d}_{migration.name}.sql has changed since it was applied to this "
                "database; restore the original file and add changes as a new numbered migration"
            )
    return [migration for migration in migrations if migration.version not in applied]


async def migrate(conn: aiosqlite.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply pending migrations in order; return the ones applied (empty when up to date)."""
    pending = check_history(await applied_versions(conn), load_migrations(directory))
    for migration in pending:
        # executescript() commits before it runs, so the transaction is spelled out in the script itself:
        # the schema change and its record in schema_migrations commit together or not at all.
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{migration.sql}\n;\n"
            "INSERT INTO schema_migrations (version, name, checksum) "
            f"VALUES ({migration.version}, '{migration.name}', '{migration.checksum}');\n"
            "COMMIT;"
        )
        try:
            await conn.executescript(script)
        except Exception as error:
            if conn.in_transaction:
                await conn.rollback()
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name}.sql failed and was rolled back: {error}"
            ) from error
    return pending
