"""One culturebot per database: an exclusive advisory lock on `<database>.lock`, held while a command writes to it.

Two bots on one database would both answer every question and run the jobs, and the second one's start-up would
mark the first one's live answers as cut off by a crash. `culturebot run`, `migrate` and `sandbox --db` hold the
lock for as long as they run; read-only commands (`digest`, `backup`) never take it. The kernel releases the lock
when the process ends, however it ends, so a crash leaves no stale lock behind: the file itself stays, holding the
process id of its last holder, which only the message below reads.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Self

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)


class InstanceLockError(Exception):
    """The database cannot be locked for this process; the message says why."""


class DatabaseInUse(InstanceLockError):
    """Another process holds the database's lock."""

    def __init__(self, database: Path, holder: int | None, fix: str = "") -> None:
        self.database = database
        self.holder = holder  # its process id, when the lock file tells it
        who = f"another culturebot (pid {holder})" if holder is not None else "another culturebot"
        super().__init__(_with_fix(f"{who} is using the database {database}", fix))


def _with_fix(problem: str, fix: str) -> str:
    return f"{problem}; {fix}" if fix else problem


def lock_file(database: Path) -> Path:
    """The lock file beside a database: data/culturebot.sqlite3 has data/culturebot.sqlite3.lock."""
    return database.with_name(database.name + ".lock")


class DatabaseLock:
    """A held database lock; released by `release()`, by leaving a `with` block, or when the process ends."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def lock_database(database: Path, *, fix: str = "", fix_unlockable: str = "") -> DatabaseLock:
    """Take the database's lock for this process, or raise `DatabaseInUse` at once if another process holds it, or
    `InstanceLockError` if it cannot be locked at all. Their messages end with what the caller's user can do: `fix`
    for a database in use, `fix_unlockable` for one that cannot be locked.

    Take it before anything is written to the database (migrations, marking cut-off answers)."""
    if sys.platform == "win32":  # pragma: no cover - no fcntl: not POSIX
        log.warning("no file locks on this system: nothing stops a second culturebot from using %s too", database)
        return DatabaseLock(None)
    path = lock_file(database)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Not inherited by child processes (Python's default): the embedded model's server must not keep it held.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise InstanceLockError(
            _with_fix(
                f"cannot create the lock file {path} beside the database: {error.strerror or error}", fix_unlockable
            )
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise DatabaseInUse(database, holder, fix) from None
    except OSError as error:  # a filesystem without locks
        os.close(fd)
        raise InstanceLockError(_with_fix(f"cannot lock {path}: {error.strerror or error}", fix_unlockable)) from None
    except BaseException:
        os.close(fd)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as error:  # only the message of a second process would miss it
        log.warning("could not write this process's id in %s: %s", path, error.strerror or error)
    return DatabaseLock(fd)


def _holder(fd: int) -> int | None:
    """The process id the lock's holder wrote, if it has written it yet."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
