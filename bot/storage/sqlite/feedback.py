"""Consent, reasons, comments, and a member's data: export, deletion, retention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.storage.records import (
    QUOTES_COVER_QUESTIONS_FROM,
    Consent,
    ConsentLevel,
    Forgotten,
    NewComment,
)
from bot.storage.sqlite.connection import (
    SqliteConnection,
    consent_covers,
    ensure_guild_row,
)

COMMENT_LEVELS = ("comments", "quotes")  # consent levels that cover a comment
REPEAT_WITHIN_MINUTES = 10  # the same form comment again this soon is one comment sent twice
# bot_state key: the sequence number of the last privacy request (bot/storage/privacy_log.py) this database
# reflects, written in the same transaction as the request's change.
PRIVACY_LOG_APPLIED = "privacy_log_applied"
_MARK_APPLIED = (
    "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE CAST(bot_state.value AS INTEGER) < excluded.value"
)
# Unlinks answers from their asker (the WHERE clause follows): the question, its message id (which names its
# author) and its cues (who they talk to, their setting) go, except its language. A marker per answer, not one
# shared by every forgotten member: analyses that group answers by asker (comparisons resample members) must
# not merge strangers.
# Queues the threads opened from answers' questions (a thread's id is its question message's) for renaming on
# Discord (`threads_to_rename`), before their question text goes; the WHERE clause follows.
QUEUE_THREADS = (
    "INSERT OR IGNORE INTO threads_to_rename (thread_id, guild_id) SELECT DISTINCT channel_id, guild_id FROM answers "
    "WHERE channel_id = question_message_id AND "
)
# A private answer (`/ask private:True`) goes too: only its asker saw it, so no other member's rating needs it, and
# answers often restate their question.
# The prompt's hash goes with the question: it was made from the question's words, so a guess could be checked
# against it.
FORGET_QUESTIONS = (
    "UPDATE answers SET asker_hash = 'forgotten-' || answer_id, question = '', question_message_id = NULL, "
    "prompt_sha256 = NULL, "
    "answer = CASE WHEN ephemeral THEN '' ELSE answer END, "
    "cues = CASE WHEN json_valid(cues) THEN json_object('language', json_extract(cues, '$.language')) END WHERE "
)
# The cues the retention purge keeps of a question (the rest was read from its words: whom the member talks to,
# the identities and places they named): the two the digests break ratings down by.
PURGED_CUES = (
    "CASE WHEN json_valid(cues) THEN json_object('language', json_extract(cues, '$.language'), "
    "'setting', json_extract(cues, '$.setting')) END"
)
# The reply comments made in a channel or thread, or in a channel's threads (parameters: the channel's id twice).
REPLY_COMMENTS_IN = (
    "source = 'reply' AND message_id IS NOT NULL AND answer_id IN (SELECT answer_id FROM answers WHERE channel_id = ? "
    "UNION ALL SELECT answer_id FROM answers WHERE thread_parent_id = ?)"
)
# The retention purge (`purge_expired_text`). A server's cutoff (parameter: now), and the answers and comments whose
# text is due: parameters the latest cutoff of all servers (bounding the partial indexes' range), then now.
RETENTION_CUTOFF = "strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || coalesce(s.retention_days, 180) || ' days')"
EXPIRED_ANSWERS = (
    "text_purged_at IS NULL AND created_at < ? AND outcome != 'streaming' AND created_at < (SELECT "
    f"{RETENTION_CUTOFF} FROM guilds g LEFT JOIN guild_settings s USING (guild_id) WHERE g.guild_id = answers.guild_id)"
)
PURGE_ANSWERS = (
    f"UPDATE answers SET question = '', answer = '', cues = {PURGED_CUES}, prompt_sha256 = NULL, text_purged_at = ? "
    f"WHERE {EXPIRED_ANSWERS}"
)
PURGE_COMMENTS = (
    "UPDATE comments SET text = '', purged_at = ? WHERE purged_at IS NULL AND created_at < ? AND created_at < (SELECT "
    f"{RETENTION_CUTOFF} FROM answers a JOIN guilds g USING (guild_id) LEFT JOIN guild_settings s USING (guild_id) "
    "WHERE a.answer_id = comments.answer_id)"
)
# `forget_member`'s deletions, by kind, in order, each through an index: a forget request must not scan every
# server's rows while it holds the database (ratings' and reasons' tables grow with the whole deployment).
FORGET_MEMBER = (
    ("rating reasons", "DELETE FROM rating_reasons WHERE rater_hash = ?"),  # indexed (0017)
    ("ratings", "DELETE FROM ratings WHERE rater_hash = ?"),
    ("comments", "DELETE FROM comments WHERE rater_hash = ?"),
    ("consent decisions", "DELETE FROM consent_events WHERE member_hash = ?"),
    # The key is (server, member): one lookup per server.
    ("consent records", "DELETE FROM consents WHERE guild_id IN (SELECT guild_id FROM guilds) AND member_hash = ?"),
    ("questions", FORGET_QUESTIONS + "asker_hash = ?"),
)


class FeedbackStore(SqliteConnection):
    """Consent, reasons, comments, and a member's data: export, deletion, retention."""

    # Consent

    async def consent(self, guild_id: int, member_hash: str) -> Consent | None:
        row = await self._fetchone(
            "SELECT guild_id, member_hash, level, consent_version, dm_opt_in, decided_at FROM consents "
            "WHERE guild_id = ? AND member_hash = ?",
            (guild_id, member_hash),
        )
        if row is None:
            return None
        return Consent(int(row[0]), str(row[1]), ConsentLevel(row[2]), str(row[3]), bool(row[4]), str(row[5]))

    async def consent_covered_answer(self, member_hash: str, answer_id: int) -> bool:
        """Whether the member's consent in the answer's server has covered ratings, without a break (a decline, or
        a forget request, which deletes the history), since before the answer was posted: every reaction on it
        then came while they agreed."""
        row = await self._fetchone(
            "SELECT coalesce(("
            "  SELECT min(e.decided_at) FROM consent_events e WHERE e.guild_id = a.guild_id AND e.member_hash = ?1 "
            "  AND e.level != 'declined' AND e.event_id > coalesce((SELECT max(d.event_id) FROM consent_events d "
            "  WHERE d.guild_id = a.guild_id AND d.member_hash = ?1 AND d.level = 'declined'), 0)"
            "), ("
            # Decisions recorded before consent_events existed have no history: the current one counts.
            "  SELECT c.decided_at FROM consents c WHERE c.guild_id = a.guild_id AND c.member_hash = ?1 "
            "  AND c.level != 'declined' AND NOT EXISTS (SELECT 1 FROM consent_events x "
            "  WHERE x.guild_id = a.guild_id AND x.member_hash = ?1)"
            ")) <= a.created_at FROM answers a WHERE a.answer_id = ?2",
            (member_hash, answer_id),
        )
        return bool(row and row[0])

    async def set_consent(
        self,
        guild_id: int,
        member_hash: str,
        level: ConsentLevel,
        consent_version: str,
        *,
        dm_opt_in: bool = False,
        decided_at: str | None = None,
        logged: int | None = None,
    ) -> int:
        """Record a member's decision (and keep it in the history of decisions); how many of their ratings,
        comments and questions the decision deleted or made unquotable (a question asked in public is quoted in
        digests only while its asker's consent allows quotes).

        `decided_at`: when it was made (default now; a decision re-applied from the privacy log keeps its time).
        `logged`: its sequence number in the privacy log, recorded with it (`privacy_log_applied`)."""
        async with self._transaction() as conn:
            await ensure_guild_row(conn, guild_id)
            # Before the decision replaces it: the public questions the member's consent let digests quote (only a
            # decision that withholds quotes makes them unquotable).
            quoted_questions = 0
            if not level.allows_quotes:
                async with conn.execute(
                    "SELECT count(*) FROM answers a JOIN consents c ON c.guild_id = a.guild_id AND c.member_hash = "
                    "a.asker_hash WHERE a.guild_id = ? AND a.asker_hash = ? AND a.ephemeral = 0 AND a.question != '' "
                    "AND c.level = 'quotes' "
                    f"AND CAST(c.consent_version AS INTEGER) >= {QUOTES_COVER_QUESTIONS_FROM}",
                    (guild_id, member_hash),
                ) as cursor:
                    quoted_questions = (await cursor.fetchone() or (0,))[0]
            await conn.execute(
                "INSERT INTO consents (guild_id, member_hash, level, consent_version, dm_opt_in, decided_at) "
                "VALUES (?, ?, ?, ?, ?, coalesce(?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) "
                "ON CONFLICT (guild_id, member_hash) DO UPDATE SET level = excluded.level, "
                "consent_version = excluded.consent_version, dm_opt_in = excluded.dm_opt_in, "
                "decided_at = excluded.decided_at",
                (guild_id, member_hash, level.value, consent_version, int(dm_opt_in), decided_at),
            )
            await conn.execute(
                "INSERT INTO consent_events (guild_id, member_hash, level, consent_version, decided_at) "
                "VALUES (?, ?, ?, ?, coalesce(?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
                (guild_id, member_hash, level.value, consent_version, decided_at),
            )
            if logged is not None:
                await conn.execute(_MARK_APPLIED, (PRIVACY_LOG_APPLIED, logged))
            changed = 0
            if not level.allows_comments:
                # Withdrawing consent for comments removes the comments already given in this server.
                cursor = await conn.execute(
                    "DELETE FROM comments WHERE rater_hash = ? AND answer_id IN "
                    "(SELECT answer_id FROM answers WHERE guild_id = ?)",
                    (member_hash, guild_id),
                )
                changed += cursor.rowcount
            if not level.allows_ratings:
                cursor = await conn.execute(
                    "DELETE FROM ratings WHERE rater_hash = ? AND answer_id IN "
                    "(SELECT answer_id FROM answers WHERE guild_id = ?)",
                    (member_hash, guild_id),
                )
                changed += cursor.rowcount
            if not level.allows_quotes:
                cursor = await conn.execute(
                    # Only those still quotable: the count says what this decision changed.
                    "UPDATE comments SET quotable = 0 WHERE quotable = 1 AND rater_hash = ? AND answer_id IN "
                    "(SELECT answer_id FROM answers WHERE guild_id = ?)",
                    (member_hash, guild_id),
                )
                changed += cursor.rowcount
                # Digests made before this decision quote those questions: counted, so that they are made again.
                changed += quoted_questions
        if changed:
            await self._wipe_wal()
        return changed

    # Reasons and comments

    async def set_reasons(self, answer_id: int, rater_hash: str, tags: list[str], *, value: int | None = None) -> bool:
        """Replace the reason tags of a member's rating; False if there is no rating to attach them to (with
        `value`, none with that value: the reasons were picked for a rating changed since)."""
        match = "" if value is None else " AND value = ?"
        params = (answer_id, rater_hash) if value is None else (answer_id, rater_hash, value)
        async with self._transaction() as conn:
            async with conn.execute(
                f"SELECT 1 FROM ratings WHERE answer_id = ? AND rater_hash = ?{match}", params
            ) as cursor:
                if await cursor.fetchone() is None:
                    return False
            await conn.execute(
                "DELETE FROM rating_reasons WHERE answer_id = ? AND rater_hash = ?", (answer_id, rater_hash)
            )
            await conn.executemany(
                "INSERT INTO rating_reasons (answer_id, rater_hash, tag) VALUES (?, ?, ?)",
                [(answer_id, rater_hash, tag) for tag in dict.fromkeys(tags)],
            )
            return True

    async def reasons(self, answer_id: int, rater_hash: str) -> list[str]:
        rows = await self._fetchall(
            "SELECT tag FROM rating_reasons WHERE answer_id = ? AND rater_hash = ? ORDER BY tag",
            (answer_id, rater_hash),
        )
        return [str(row[0]) for row in rows]

    async def reply_comments_since(self, since_iso: str, limit: int) -> list[tuple[int, int, int]]:
        """(guild, channel, message) of the newest `limit` reply comments with text stored since `since_iso`, newest
        first: the messages whose deletion or edit while the bot was away `comment_catch_up` reads back. A reply
        comment is in its answer's channel (a reply to it, or the bot's thread it is in)."""
        rows = await self._fetchall(
            "SELECT a.guild_id, a.channel_id, c.message_id FROM comments c JOIN answers a USING (answer_id) "
            "WHERE c.source = 'reply' AND c.message_id IS NOT NULL AND c.text != '' AND c.created_at >= ? "
            "ORDER BY c.comment_id DESC LIMIT ?",
            (since_iso, limit),
        )
        return [(int(row[0]), int(row[1]), int(row[2])) for row in rows]

    async def delete_reply_comments_in(self, channel_id: int) -> int:
        """Delete the reply comments made in a channel or thread that was deleted, or in the threads of a deleted
        channel (their messages went with it); how many. Comments given in the form are not messages, and stay."""
        # Every channel or thread deleted in a server comes here: a read first (by index), so that nearly all take
        # no write lock.
        found = await self._fetchone(
            f"SELECT 1 FROM comments WHERE {REPLY_COMMENTS_IN} LIMIT 1", (channel_id, channel_id)
        )
        if found is None:
            return 0
        async with self._transaction() as conn:
            cursor = await conn.execute(f"DELETE FROM comments WHERE {REPLY_COMMENTS_IN}", (channel_id, channel_id))
        if cursor.rowcount:
            await self._wipe_wal()
        return cursor.rowcount

    async def delete_comments_of_messages(self, message_ids: Sequence[int]) -> int:
        """Delete the reply comments these Discord messages carried (their members deleted them); how many."""
        if not message_ids:
            return 0
        marks = ", ".join("?" * len(message_ids))
        # Every message deleted in a server comes here: a read first, so that a message that carried no comment
        # (nearly all of them) takes no write lock.
        found = await self._fetchone(
            f"SELECT 1 FROM comments WHERE message_id IN ({marks}) LIMIT 1", tuple(message_ids)
        )
        if found is None:
            return 0
        async with self._transaction() as conn:
            cursor = await conn.execute(f"DELETE FROM comments WHERE message_id IN ({marks})", tuple(message_ids))
        if cursor.rowcount:
            await self._wipe_wal()
        return cursor.rowcount

    async def replace_comment_text(self, message_id: int, text: str) -> bool:
        """The member edited the reply comment this message carries: its stored text follows (unless the
        retention job has deleted it already). Whether a comment changed."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE comments SET text = ? WHERE message_id = ? AND text != '' AND text != ?",
                (text, message_id, text),
            )
        if cursor.rowcount:
            await self._wipe_wal()  # the earlier text must not stay readable in the WAL
        return bool(cursor.rowcount)

    async def add_comment(self, comment: NewComment, *, consent_version: str | None = None) -> int | None:
        """Store a comment; None when the same Discord message was stored already (a redelivered event), or the
        same form text from the member on the answer within `REPEAT_WITHIN_MINUTES` (a form sent again).

        With `consent_version`, only while the member's consent in the answer's server is to that notice and
        covers comments, checked by the writing statement itself; raises `ConsentChanged` otherwise. A comment
        is quotable only if the consent still allows quotes."""
        values = (comment.answer_id, comment.rater_hash, comment.text, comment.source.value, int(comment.quotable))
        member: tuple[object, ...] = ()  # the parameters of each consent_covers condition
        guard, quotable = "", "?"
        if consent_version is not None:
            guard, quotable = " AND " + consent_covers(COMMENT_LEVELS), "? AND " + consent_covers(("quotes",))
            member = (comment.answer_id, comment.rater_hash, consent_version)
        repeat = ""
        again: tuple[object, ...] = ()
        if comment.message_id is None:
            # A form has no message to tell a second delivery by: the same text from the same member on the same
            # answer within minutes is the form sent again (its first reply failed, so the member retried).
            repeat = (
                " AND NOT EXISTS (SELECT 1 FROM comments WHERE message_id IS NULL AND answer_id = ? "
                "AND rater_hash = ? AND text = ? "
                f"AND created_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{REPEAT_WITHIN_MINUTES} minutes'))"
            )
            again = (comment.answer_id, comment.rater_hash, comment.text)
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO comments (answer_id, rater_hash, text, source, quotable, message_id) "
                f"SELECT ?, ?, ?, ?, {quotable}, ? WHERE 1{guard}{repeat} ON CONFLICT (message_id) DO NOTHING",
                (*values, *member, comment.message_id, *member, *again),
            )
            if cursor.rowcount:
                return cursor.lastrowid
        if consent_version is not None:  # nothing written: a redelivered event, or the consent changed
            await self._require_consent(comment.answer_id, comment.rater_hash, consent_version, COMMENT_LEVELS)
        return None

    async def comments_for_answer(self, answer_id: int) -> list[tuple[str, str, bool]]:
        """(rater_hash, text, quotable) of an answer's comments, oldest first."""
        rows = await self._fetchall(
            "SELECT rater_hash, text, quotable FROM comments WHERE answer_id = ? ORDER BY comment_id", (answer_id,)
        )
        return [(str(r[0]), str(r[1]), bool(r[2])) for r in rows]

    # A member's data: export, deletion, retention

    async def member_data(self, member_hash: str) -> dict[str, list[dict[str, Any]]]:
        """Every row linked to the member, table by table, for an export."""
        queries = {
            "consents": "SELECT guild_id, level, consent_version, dm_opt_in, decided_at FROM consents "
            "WHERE member_hash = ?",
            "consent_history": "SELECT guild_id, level, consent_version, decided_at FROM consent_events "
            "WHERE member_hash = ? ORDER BY event_id",
            # With the randomized comparison and arm the member was assigned to, when there was one.
            # Everything the answer row holds that comes from or points to the member: the question's message,
            # the cues read from their words, the conversation it continued, the scope version it was answered under.
            "questions": "SELECT a.answer_id, a.guild_id, a.channel_id, a.thread_parent_id, a.question_message_id, "
            "a.parent_answer_id, a.question, a.cues, a.answer, a.outcome, v.number AS scope_version, a.comparison_id, "
            "a.arm, a.created_at, a.text_purged_at FROM answers a LEFT JOIN scope_versions v "
            "ON v.version_id = a.scope_version_id WHERE a.asker_hash = ? ORDER BY a.answer_id",
            "ratings": "SELECT r.answer_id, a.guild_id, r.value, r.previous_value, r.scale_size, r.is_asker, r.source, "
            "r.created_at, r.updated_at FROM ratings r JOIN answers a USING (answer_id) WHERE r.rater_hash = ? "
            "ORDER BY r.answer_id",
            "rating_reasons": "SELECT answer_id, tag FROM rating_reasons WHERE rater_hash = ? ORDER BY answer_id, tag",
            "comments": "SELECT c.answer_id, a.guild_id, c.text, c.source, c.message_id, c.quotable, c.created_at, "
            "c.purged_at FROM comments c JOIN answers a USING (answer_id) WHERE c.rater_hash = ? ORDER BY c.comment_id",
        }
        data: dict[str, list[dict[str, Any]]] = {}
        async with self._lock:
            for name, sql in queries.items():
                async with self._conn.execute(sql, (member_hash,)) as cursor:
                    columns = [column[0] for column in cursor.description]
                    data[name] = [dict(zip(columns, row, strict=True)) for row in await cursor.fetchall()]
        return data

    async def forget_member(self, member_hash: str, *, logged: int | None = None) -> Forgotten:
        """Delete every row linked to the member in every table; returns what was removed, by kind, and the
        threads the bot opened from the member's questions (for the caller to rename on Discord).

        Answers to the member's questions stay for the other members who rated them, but the question
        text and every link to the member are removed: the pseudonym, the id of their question's Discord message
        (which names its author), and the cues read from the question (who they talk to, their setting, names
        of places or groups) except its language. An answer in a thread opened from the question keeps the
        thread as its channel (the thread's id is the question message's): the answer's messages are there, and
        the reaction catch-up reads them there. Research data names the thread's parent instead (0009), and the
        caller renames the thread, whose name is the start of the question. `logged`: the request's sequence
        number in the privacy log, recorded with it (`privacy_log_applied`).
        """
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "SELECT DISTINCT channel_id FROM answers WHERE asker_hash = ? AND channel_id = question_message_id "
                "ORDER BY channel_id",
                (member_hash,),
            )
            threads = [int(row[0]) for row in await cursor.fetchall()]
            await conn.execute(QUEUE_THREADS + "asker_hash = ?", (member_hash,))
            counts = {}
            for name, sql in FORGET_MEMBER:
                cursor = await conn.execute(sql, (member_hash,))
                counts[name] = cursor.rowcount
            if logged is not None:
                await conn.execute(_MARK_APPLIED, (PRIVACY_LOG_APPLIED, logged))
        if any(counts.values()):
            await self._wipe_wal()
        return Forgotten(counts, threads)

    async def note_privacy_logged(self, seq: int) -> None:
        """Privacy-log request `seq` was made in this database before its line could be written (the mark never
        goes back)."""
        await self._write_one(_MARK_APPLIED, (PRIVACY_LOG_APPLIED, seq))

    async def privacy_log_applied(self) -> int:
        """The sequence number of the last privacy-log request this database reflects (0: none)."""
        row = await self._fetchone("SELECT value FROM bot_state WHERE key = ?", (PRIVACY_LOG_APPLIED,))
        return 0 if row is None else int(row[0])

    async def forget_question(self, answer_id: int) -> bool:
        """Unlink one answer from its asker as `forget_member` does (a question recorded just after its member
        was forgotten, by an answer already under way); whether it was still linked."""
        async with self._transaction() as conn:
            await conn.execute(QUEUE_THREADS + "answer_id = ? AND asker_hash NOT LIKE 'forgotten-%'", (answer_id,))
            cursor = await conn.execute(
                FORGET_QUESTIONS + "answer_id = ? AND asker_hash NOT LIKE 'forgotten-%'", (answer_id,)
            )
        if cursor.rowcount:
            await self._wipe_wal()
        return bool(cursor.rowcount)

    async def queue_thread_of_question(self, message_id: int) -> bool:
        """The member deleted a question message the bot opened a thread from (the thread's id is the message's):
        queue the thread, named after the question, for renaming. Whether there is such a thread."""
        # Every message deleted in a server comes here: a read first (by index), so that nearly all take no lock.
        found = await self._fetchone(
            "SELECT 1 FROM answers WHERE channel_id = ? AND question_message_id = ? LIMIT 1", (message_id, message_id)
        )
        if found is None:
            return False
        await self._write_one(QUEUE_THREADS + "channel_id = ? AND question_message_id = ?", (message_id, message_id))
        return True

    async def threads_to_rename(self, limit: int) -> list[int]:
        """Threads still named after a deleted question (see migrations/0010), those tried least often first, then
        oldest first; `limit` at most."""
        rows = await self._fetchall(
            # Fewest failures first: threads that keep failing (a server the bot left) must not hold back new ones.
            "SELECT thread_id FROM threads_to_rename ORDER BY attempts, added_at, thread_id LIMIT ?",
            (limit,),
        )
        return [int(row[0]) for row in rows]

    async def thread_renamed(self, thread_id: int) -> None:
        """The thread no longer carries a question (renamed, or gone from Discord)."""
        await self._write_one("DELETE FROM threads_to_rename WHERE thread_id = ?", (thread_id,))

    async def thread_rename_failed(self, thread_id: int, max_attempts: int) -> bool:
        """Count a failed rename; whether the thread was given up (its `max_attempts`-th failure: it leaves the
        queue)."""
        async with self._transaction() as conn:
            await conn.execute("UPDATE threads_to_rename SET attempts = attempts + 1 WHERE thread_id = ?", (thread_id,))
            cursor = await conn.execute(
                "DELETE FROM threads_to_rename WHERE thread_id = ? AND attempts >= ?", (thread_id, max_attempts)
            )
        return bool(cursor.rowcount)

    async def texts_older_than(self, guild_id: int, days: int, now_iso: str) -> tuple[int, int]:
        """How many of the server's answers and comments still have text and are older than `days` before
        `now_iso` (what a retention period of `days` would purge): (answers, comments)."""
        cutoff = "strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || ? || ' days')"
        answers = await self._fetchone(
            "SELECT count(*) FROM answers WHERE guild_id = ? AND text_purged_at IS NULL AND outcome != 'streaming' "
            f"AND created_at < {cutoff}",
            (guild_id, now_iso, days),
        )
        comments = await self._fetchone(
            "SELECT count(*) FROM comments c JOIN answers a USING (answer_id) WHERE a.guild_id = ? "
            f"AND c.purged_at IS NULL AND c.created_at < {cutoff}",
            (guild_id, now_iso, days),
        )
        return (int(answers[0]) if answers else 0), (int(comments[0]) if comments else 0)

    async def purge_expired_text(self, now_iso: str) -> tuple[int, int]:
        """Remove raw text older than each server's retention period; returns (answers, comments) purged.

        Ratings, reason tags, timings and token counts stay, so aggregates survive the purge. What was read from a
        question's words goes with it (who the member talks to, the identities and places they named), except its
        language and setting, which the digests break ratings down by.
        """
        # The latest of the servers' cutoffs bounds what can be due: the rows with text older than it are read
        # through partial indexes (migration 0021), not every row of every server, daily, under the write lock.
        latest = await self._fetchone(
            f"SELECT max({RETENTION_CUTOFF}) FROM guilds g LEFT JOIN guild_settings s USING (guild_id)", (now_iso,)
        )
        due_before = latest[0] if latest is not None and latest[0] is not None else ""
        async with self._transaction() as conn:
            await conn.execute(QUEUE_THREADS + EXPIRED_ANSWERS, (due_before, now_iso))
            answers = await conn.execute(PURGE_ANSWERS, (now_iso, due_before, now_iso))
            comments = await conn.execute(PURGE_COMMENTS, (now_iso, due_before, now_iso))
        if answers.rowcount or comments.rowcount or self._wal_wipe_owed:
            await self._wipe_wal()
        return answers.rowcount, comments.rowcount
