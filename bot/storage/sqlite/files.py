"""Whether a path names a readable SQLite file, told before any connection opens it (a connection would create or
change a file that is not one). The callers say what is wrong in their own words (`culturebot backup`,
`culturebot digest`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


class FileProblem(enum.Enum):
    MISSING = "missing"
    FOLDER = "folder"
    DENIED = "denied"  # no permission to read it
    UNREADABLE = "unreadable"  # another OSError: `DatabaseFileProblem.error` says which
    EMPTY = "empty"
    NOT_SQLITE = "not_sqlite"


@dataclass(frozen=True, slots=True)
class DatabaseFileProblem:
    kind: FileProblem
    error: OSError | None = None


def database_file_problem(path: Path) -> DatabaseFileProblem | None:
    """What keeps `path` from being a readable SQLite file, or None: its header is read with a plain open."""
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError as error:
        return DatabaseFileProblem(FileProblem.MISSING, error)
    except IsADirectoryError as error:
        return DatabaseFileProblem(FileProblem.FOLDER, error)
    except PermissionError as error:
        return DatabaseFileProblem(FileProblem.DENIED, error)
    except OSError as error:
        return DatabaseFileProblem(FileProblem.UNREADABLE, error)
    if not header:
        return DatabaseFileProblem(FileProblem.EMPTY)
    if header != SQLITE_HEADER:
        return DatabaseFileProblem(FileProblem.NOT_SQLITE)
    return None
