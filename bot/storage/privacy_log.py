"""Members' privacy requests, kept outside the database so that restoring a backup cannot undo them.

A backup holds the data as it was when it was taken: restored, it would bring back what `/privacy forget`
deleted since, and a member's lowered or withdrawn consent (the bot would go on storing what they refused). The
privacy log is a small JSON-lines file beside the database (never inside it, never in a backup) with one line
per request: a consent decision (server, pseudonym, level, notice version, time) or a forget request
(pseudonym, time). Each line has a sequence number; the database records the highest one it reflects, in the
same transaction as the change itself (`FeedbackStore.set_consent`, `forget_member`). At start-up the bot
re-applies every request the database does not reflect yet, in order (`bot.feedback.privacy_requests`): after a
restore, those made since the backup; after a crash between the two writes, the one that was cut off.

What the log holds is what the database holds anyway (pseudonyms and decisions), and no more of it than
needed: a forget request removes the member's earlier lines (the database forgets their decisions too), and
lines older than the keep period (`CULTUREBOT_PRIVACY_LOG_DAYS`) are dropped; a backup older than that must
not be restored (README, *Backups*).

Lines are appended and fsynced before the database changes. A line cut off by a crash mid-write (only ever
the last one, and never acknowledged to the member) is dropped when the log is opened; any other line that is
not a request stops the bot with the line's number, rather than silently skipping a request.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.private_files import make_private
from bot.storage.records import ConsentLevel

log = logging.getLogger(__name__)

FORGET = "forget"
CONSENT = "consent"


@dataclass(frozen=True, slots=True)
class ForgetRequest:
    seq: int
    at: str  # as stored timestamps ("2026-12-06T22:15:00.000Z")
    member: str  # the member's pseudonym


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    seq: int
    at: str
    guild_id: int
    member: str
    level: ConsentLevel
    consent_version: str
    dm_opt_in: bool


PrivacyRequest = ForgetRequest | ConsentDecision


class PrivacyLogError(Exception):
    """The privacy log cannot be read or written; the message says which file and line, and what to do."""


def _timestamp(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _line(request: PrivacyRequest) -> str:
    fields: dict[str, Any] = asdict(request)
    kind = FORGET if isinstance(request, ForgetRequest) else CONSENT
    if isinstance(request, ConsentDecision):
        fields["level"] = request.level.value
    return json.dumps({"request": kind, **fields}, ensure_ascii=False, separators=(",", ":")) + "\n"


def _parse(text: str) -> PrivacyRequest:
    """One line as a request; raises ValueError (or KeyError, TypeError) saying what is wrong."""
    fields = json.loads(text)
    if not isinstance(fields, dict):
        raise ValueError("not a JSON object")
    kind = fields.pop("request", None)
    seq, at, member = fields["seq"], fields["at"], fields["member"]
    if not isinstance(seq, int) or seq < 1 or not isinstance(at, str) or not isinstance(member, str) or not member:
        raise ValueError("seq must be a positive integer, at and member texts")
    datetime.fromisoformat(at.replace("Z", "+00:00"))
    if kind == FORGET:
        return ForgetRequest(seq, at, member)
    if kind == CONSENT:
        guild_id, version, dm_opt_in = fields["guild_id"], fields["consent_version"], fields["dm_opt_in"]
        if not isinstance(guild_id, int) or not isinstance(version, str) or not isinstance(dm_opt_in, bool):
            raise ValueError("guild_id must be an integer, consent_version a text and dm_opt_in true or false")
        return ConsentDecision(seq, at, guild_id, member, ConsentLevel(fields["level"]), version, dm_opt_in)
    raise ValueError(f"unknown request {kind!r} (expected {FORGET!r} or {CONSENT!r})")


class PrivacyLog:
    """The log file and the requests in it, oldest first. Thread-safe: callers on the event loop write through
    `asyncio.to_thread` (each write is fsynced)."""

    def __init__(self, path: Path, keep: timedelta, requests: list[PrivacyRequest], *, found: bool = True) -> None:
        self.path = path
        self.keep = keep
        self.found = found  # the file was there when opened (an empty file is an empty log too)
        self._requests = requests
        self._floor = 0  # numbering continues after this (`continue_after`)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, keep: timedelta) -> PrivacyLog:
        """Read the log (an absent file is an empty log, created on the first request)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls(path, keep, [], found=False)
        except OSError as error:
            raise PrivacyLogError(f"cannot read the privacy log {path}: {error}") from None
        make_private([path], path, "it holds members' pseudonyms and their privacy requests")
        requests: list[PrivacyRequest] = []
        lines = data.split(b"\n")
        good = 0  # bytes of whole, valid lines
        for number, raw in enumerate(lines, start=1):
            last = number == len(lines)
            if not raw:
                if not last:
                    raise PrivacyLogError(cls._bad(path, number, "it is empty"))
                continue
            try:
                request = _parse(raw.decode("utf-8"))
            except (ValueError, KeyError, TypeError) as error:
                if last:  # no newline after it: cut off mid-write by a crash, never acknowledged
                    # Its length only: the line holds a member's pseudonym, which the application log should not.
                    log.warning("dropping the unfinished last line of the privacy log %s (%d bytes)", path, len(raw))
                    cls._truncate(path, good)
                    break
                raise PrivacyLogError(cls._bad(path, number, str(error) or type(error).__name__)) from None
            if requests and request.seq <= requests[-1].seq:
                raise PrivacyLogError(
                    cls._bad(path, number, f"its seq {request.seq} is not above the line before's {requests[-1].seq}")
                )
            requests.append(request)
            good += len(raw) + 1
            if last:  # a whole request without its newline (e.g. a line corrected in an editor): the next
                cls._end_line(path)  # one appended must start a line of its own
        return cls(path, keep, requests)

    @staticmethod
    def _bad(path: Path, number: int, problem: str) -> str:
        return (
            f"line {number} of the privacy log {path} is not a privacy request ({problem}). The file records "
            "members' consent decisions and forget requests so that they survive a database restore: correct "
            "that line, or delete it if you know the request it held is in the database"
        )

    @staticmethod
    def _end_line(path: Path) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                _write_all(fd, b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            raise PrivacyLogError(f"cannot repair the privacy log {path}: {error}") from None

    @staticmethod
    def _truncate(path: Path, size: int) -> None:
        try:
            with open(path, "r+b") as handle:
                handle.truncate(size)
                os.fsync(handle.fileno())
        except OSError as error:
            raise PrivacyLogError(f"cannot repair the privacy log {path}: {error}") from None

    @property
    def requests(self) -> list[PrivacyRequest]:
        return list(self._requests)

    @property
    def last_seq(self) -> int:
        return max(self._floor, self._requests[-1].seq if self._requests else 0)

    def continue_after(self, seq: int) -> None:
        """Number the next request after `seq` (the database reflects requests up to it)."""
        with self._lock:
            self._floor = max(self._floor, seq)

    def after(self, seq: int) -> list[PrivacyRequest]:
        """The requests the database does not reflect yet, oldest first."""
        return [request for request in self._requests if request.seq > seq]

    def record_consent(
        self, guild_id: int, member: str, level: ConsentLevel, consent_version: str, dm_opt_in: bool, now: datetime
    ) -> ConsentDecision:
        with self._lock:
            decision = ConsentDecision(
                self.last_seq + 1, _timestamp(now), guild_id, member, level, consent_version, dm_opt_in
            )
            self._append(decision, now)
            return decision

    def record_forget(self, member: str, now: datetime) -> ForgetRequest:
        """Append the request; the member's earlier lines go (their decisions are deleted with their data)."""
        with self._lock:
            request = ForgetRequest(self.last_seq + 1, _timestamp(now), member)
            if any(earlier.member == member for earlier in self._requests):
                kept = [earlier for earlier in self._requests if earlier.member != member]
                self._rewrite([*kept, request])
            else:
                self._append(request, now)
            return request

    def withdraw(self, seq: int) -> None:
        """Take the newest request back out of the log (its database change failed, and the member was told)."""
        with self._lock:
            if self._requests and self._requests[-1].seq == seq:
                self._rewrite(self._requests[:-1])

    def prune(self, now: datetime) -> int:
        """Drop the requests older than the keep period (the database reflects them: call after re-applying)."""
        with self._lock:
            cutoff = _timestamp(now - self.keep)
            kept = [request for request in self._requests if request.at >= cutoff]
            if len(kept) == len(self._requests):
                return 0
            dropped = len(self._requests) - len(kept)
            self._rewrite(kept)
            return dropped

    def _append(self, request: PrivacyRequest, now: datetime) -> None:
        if self._requests and self._requests[0].at < _timestamp(now - self.keep):
            # Old lines go now and then as requests come; the rewrite carries the new one.
            self._rewrite([*(r for r in self._requests if r.at >= _timestamp(now - self.keep)), request])
            return
        encoded = _line(request).encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as error:
            raise PrivacyLogError(f"cannot write the privacy log {self.path}: {error}") from None
        try:
            size = os.fstat(fd).st_size
            try:
                _write_all(fd, encoded)
                os.fsync(fd)
            except OSError as error:
                # Nothing half-written stays behind to be read as a broken line later (if this fails too, the
                # next open drops the unfinished line).
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise PrivacyLogError(f"cannot write the privacy log {self.path}: {error}") from None
        finally:
            os.close(fd)
        self._requests.append(request)

    def _rewrite(self, requests: Iterable[PrivacyRequest]) -> None:
        """Replace the file whole (a new file renamed over it: a crash leaves the old or the new one)."""
        requests = list(requests)
        # Numbering never goes back, even when every line is dropped: the database's mark is at the last one.
        floor = self.last_seq
        temporary = self.path.with_name(self.path.name + ".new")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, "".join(map(_line, requests)).encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except OSError as error:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise PrivacyLogError(f"cannot write the privacy log {self.path}: {error}") from None
        self._requests = requests
        self._floor = max(self._floor, floor)
        try:  # the rename itself is durable once the folder is synced; the file is in place either way
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as error:
            log.warning("could not sync the folder of the privacy log %s: %s", self.path, error)


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a regular file may take fewer, e.g. when the disk fills)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, "nothing more could be written")
        view = view[written:]
