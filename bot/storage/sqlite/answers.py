"""Servers, answers and ratings."""

from __future__ import annotations

import json

import aiosqlite

from bot.storage.records import (
    AnswerRecord,
    AnswerResult,
    InterruptedAnswer,
    NewAnswer,
    Outcome,
    Rating,
    RatingSource,
)
from bot.storage.sqlite.connection import (
    SqliteConnection,
    consent_covers,
    fetch_all,
)

RATING_LEVELS = ("ratings", "comments", "quotes")  # consent levels that cover a rating


# An answer's text as written (the first parameter), except for a private answer whose member asked to be forgotten
# while it was written: `/privacy forget` blanks those (FORGET_QUESTIONS), and a later write must not put it back.
_KEPT_TEXT = "CASE WHEN ephemeral AND asker_hash LIKE 'forgotten-%' THEN '' ELSE ? END"


class AnswersStore(SqliteConnection):
    """Bot state, servers, answers and ratings."""

    # Bot state

    async def get_state(self, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_state(self, key: str, value: str) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                "value = excluded.value, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (key, value),
            )

    # Servers

    async def ensure_guild(self, guild_id: int, name: str) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO guilds (guild_id, name) VALUES (?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET name = excluded.name",
                (guild_id, name),
            )

    # Answers

    async def start_answer(self, new: NewAnswer) -> int:
        """Record an answer as it starts streaming; returns its id."""
        await self._ensure_guild_known(new.guild_id)
        return await self._insert_one(
            "INSERT INTO answers (guild_id, channel_id, question_message_id, asker_hash, question, model, "
            "scope_version_id, parent_answer_id, cues, sections, prompt_sha256, ephemeral, comparison_id, arm, "
            "thread_parent_id, rating_scale) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.guild_id,
                new.channel_id,
                new.question_message_id,
                new.asker_hash,
                new.question,
                new.model,
                new.scope_version_id,
                new.parent_answer_id,
                None if new.cues is None else json.dumps(new.cues, ensure_ascii=False),
                json.dumps(list(new.sections), ensure_ascii=False),
                new.prompt_sha256,
                int(new.ephemeral),
                new.comparison_id,
                None if new.arm is None else new.arm.value,
                new.thread_parent_id,
                new.rating_scale,
            ),
        )

    async def add_answer_message(self, answer_id: int, message_id: int, channel_id: int, part: int) -> None:
        """Link a Discord message to the answer it carries (part 0 is the first message)."""
        await self._write_one(
            "INSERT INTO answer_messages (message_id, answer_id, channel_id, part) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (message_id) DO NOTHING",
            (message_id, answer_id, channel_id, part),
        )

    async def save_answer_progress(self, answer_id: int, text: str) -> None:
        """Keep the text streamed so far, so a crash mid-answer loses at most what came since (the pipeline saves
        every few seconds). Only while the answer is streaming: a save that lands after the final write is ignored."""
        async with self._transaction() as conn:
            await conn.execute(
                f"UPDATE answers SET answer = {_KEPT_TEXT} WHERE answer_id = ? AND outcome = 'streaming'",
                (text, answer_id),
            )

    async def finish_answer(self, answer_id: int, result: AnswerResult) -> None:
        await self._write_one(
            f"UPDATE answers SET answer = {_KEPT_TEXT}, outcome = ?, error = ?, tokens_in = ?, tokens_out = ?, "
            "tokens_estimated = ?, ttft_ms = ?, total_ms = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            "WHERE answer_id = ?",
            (
                result.answer,
                result.outcome.value,
                result.error,
                result.tokens_in,
                result.tokens_out,
                int(result.tokens_estimated),
                result.ttft_ms,
                result.total_ms,
                answer_id,
            ),
        )

    async def record_unanswered(self, new: NewAnswer, outcome: Outcome, reason: str) -> int:
        """Record a question no model was asked about: refused by the limits, or failed before (the record
        says why)."""
        answer_id = await self.start_answer(new)
        await self.finish_answer(answer_id, AnswerResult(answer="", outcome=outcome, error=reason))
        return answer_id

    async def tokens_used_since(self, guild_id: int, since_iso: str) -> int:
        """Tokens in and out of the server's answers and previews since a moment (for the daily budget)."""
        row = await self._fetchone(
            "SELECT (SELECT coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0) FROM answers "
            "WHERE guild_id = ? AND created_at >= ?) + (SELECT coalesce(sum(tokens), 0) FROM preview_tokens "
            "WHERE guild_id = ? AND started_at >= ?)",
            (guild_id, since_iso, guild_id, since_iso),
        )
        return int(row[0]) if row else 0

    async def record_preview_tokens(self, guild_id: int, tokens: int, started_iso: str) -> None:
        """Count a `/scope preview`'s tokens toward the server's daily budget, as of when it started (nothing else
        of the preview is kept). The server's rows from before yesterday go: no budget reads them."""
        await self._ensure_guild_known(guild_id)
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO preview_tokens (guild_id, tokens, started_at) VALUES (?, ?, ?)",
                (guild_id, tokens, started_iso),
            )
            await conn.execute(
                "DELETE FROM preview_tokens WHERE guild_id = ? AND started_at < strftime('%Y-%m-%dT%H:%M:%fZ', "
                "'now', '-2 days')",
                (guild_id,),
            )

    async def conversation(self, answer_id: int, limit: int = 20) -> list[tuple[str, str, str]]:
        """(question, answer, asker's pseudonym) of the reply chain ending at `answer_id`, oldest first."""
        rows = await self._fetchall(
            "WITH RECURSIVE chain(answer_id, parent, depth) AS ("
            " SELECT answer_id, parent_answer_id, 0 FROM answers WHERE answer_id = ?"
            " UNION ALL SELECT a.answer_id, a.parent_answer_id, chain.depth + 1 FROM answers a"
            " JOIN chain ON a.answer_id = chain.parent WHERE chain.depth < ?)"
            " SELECT a.question, a.answer, a.asker_hash FROM chain JOIN answers a USING (answer_id)"
            " ORDER BY chain.depth DESC",
            (answer_id, limit - 1),
        )
        return [(str(row[0]), str(row[1]), str(row[2])) for row in rows]

    async def conversation_arms(self, answer_id: int, limit: int = 20) -> set[tuple[int | None, str | None]]:
        """The (comparison id, arm) pairs, None for none, that the answers of the reply chain ending at
        `answer_id` (the same chain as `conversation`) were given under."""
        rows = await self._fetchall(
            "WITH RECURSIVE chain(answer_id, parent, depth) AS ("
            " SELECT answer_id, parent_answer_id, 0 FROM answers WHERE answer_id = ?"
            " UNION ALL SELECT a.answer_id, a.parent_answer_id, chain.depth + 1 FROM answers a"
            " JOIN chain ON a.answer_id = chain.parent WHERE chain.depth < ?)"
            " SELECT DISTINCT a.comparison_id, a.arm FROM chain JOIN answers a USING (answer_id)",
            (answer_id, limit - 1),
        )
        return {(None if row[0] is None else int(row[0]), None if row[1] is None else str(row[1])) for row in rows}

    async def close_interrupted_answers(self) -> list[InterruptedAnswer]:
        """Mark answers left 'streaming' by a crash as incomplete; returns them, with their last message."""
        async with self._transaction() as conn:
            rows = await fetch_all(
                conn,
                "SELECT a.answer_id, a.channel_id, CASE WHEN a.ephemeral THEN NULL ELSE (SELECT m.message_id "
                "FROM answer_messages m WHERE m.answer_id = a.answer_id ORDER BY m.part DESC LIMIT 1) END, "
                "(SELECT coalesce(max(m.part) + 1, 0) FROM answer_messages m WHERE m.answer_id = a.answer_id), "
                "a.question_message_id, a.created_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), a.ephemeral "
                "FROM answers a WHERE a.outcome = 'streaming' ORDER BY a.answer_id",
                (),
            )
            if rows:
                await conn.execute(
                    "UPDATE answers SET outcome = 'incomplete', error = 'interrupted by a restart', finished_at = ? "
                    "WHERE outcome = 'streaming'",
                    (rows[0][6],),
                )
        return [
            InterruptedAnswer(
                answer_id=int(row[0]),
                channel_id=int(row[1]),
                last_message_id=row[2],
                next_part=int(row[3]),
                question_message_id=row[4],
                started_at=str(row[5]),
                closed_at=str(row[6]),
                ephemeral=bool(row[7]),
            )
            for row in rows
        ]

    async def get_answer(self, answer_id: int) -> AnswerRecord | None:
        row = await self._fetchone(
            "SELECT answer_id, guild_id, channel_id, asker_hash, question, answer, model, outcome, error, "
            "tokens_in, tokens_out, ttft_ms, total_ms, rating_scale FROM answers WHERE answer_id = ?",
            (answer_id,),
        )
        return None if row is None else _answer_record(row)

    async def answer_for_message(self, message_id: int) -> AnswerRecord | None:
        """The answer a Discord message belongs to, if it is one of the bot's answers."""
        row = await self._fetchone(
            "SELECT a.answer_id, a.guild_id, a.channel_id, a.asker_hash, a.question, a.answer, a.model, "
            "a.outcome, a.error, a.tokens_in, a.tokens_out, a.ttft_ms, a.total_ms, a.rating_scale "
            "FROM answer_messages m JOIN answers a USING (answer_id) WHERE m.message_id = ?",
            (message_id,),
        )
        return None if row is None else _answer_record(row)

    async def latest_answer_in(self, channel_id: int) -> AnswerRecord | None:
        """The newest finished public answer in a channel or thread (a thread's conversation so far). A private
        `/ask` answer there is its asker's alone: never the context of anyone's next answer."""
        row = await self._fetchone(
            "SELECT answer_id, guild_id, channel_id, asker_hash, question, answer, model, outcome, error, "
            "tokens_in, tokens_out, ttft_ms, total_ms, rating_scale FROM answers WHERE channel_id = ? AND outcome IN "
            "('ok', 'incomplete') AND ephemeral = 0 ORDER BY answer_id DESC LIMIT 1",
            (channel_id,),
        )
        return None if row is None else _answer_record(row)

    async def recent_answer_ids(self, since_iso: str, limit: int) -> list[int]:
        """The newest answers shown to members (finished or cut off) created since `since_iso`, newest first."""
        rows = await self._fetchall(
            # Through the per-server time index (a plain scan by id would read every older answer's row).
            "SELECT answer_id FROM answers WHERE guild_id IN (SELECT guild_id FROM guilds) AND created_at >= ? "
            "AND outcome IN ('ok', 'incomplete') ORDER BY answer_id DESC LIMIT ?",
            (since_iso, limit),
        )
        return [int(row[0]) for row in rows]

    async def answer_message_ids(self, answer_id: int) -> list[int]:
        rows = await self._fetchall(
            "SELECT message_id FROM answer_messages WHERE answer_id = ? ORDER BY part", (answer_id,)
        )
        return [int(row[0]) for row in rows]

    # Ratings

    async def put_rating(
        self, rating: Rating, *, consent_version: str | None = None, keep_button: bool = False
    ) -> bool:
        """Insert or replace the member's rating of an answer (one per member per answer). True when the stored
        rating is now this one (written, or already so); False only when `keep_button` kept a button rating.

        With `consent_version`, only while the member's consent in the answer's server is to that notice and
        covers ratings, checked by the writing statement itself; raises `ConsentChanged` otherwise.
        `keep_button`: a rating given with a button is left as it is (for a rating worked out from reactions read
        earlier: a click since is newer)."""
        guard = "" if consent_version is None else " AND " + consent_covers(RATING_LEVELS)
        keep = " AND ratings.source != 'button'" if keep_button else ""
        values = (
            rating.answer_id,
            rating.rater_hash,
            rating.value,
            rating.scale_size,
            int(rating.is_asker),
            rating.source.value,
        )
        params = values if consent_version is None else (*values, rating.answer_id, rating.rater_hash, consent_version)
        # One statement, so no explicit transaction: it commits before this returns (the hot path of feedback).
        written = await self._execute_one(
            "INSERT INTO ratings (answer_id, rater_hash, value, scale_size, is_asker, source) "
            f"SELECT ?, ?, ?, ?, ?, ? WHERE 1{guard} ON CONFLICT (answer_id, rater_hash) DO UPDATE SET "
            "previous_value = CASE WHEN ratings.value != excluded.value AND ratings.scale_size = excluded.scale_size "
            "THEN ratings.value WHEN ratings.scale_size != excluded.scale_size THEN NULL "
            "ELSE ratings.previous_value END, "
            "value = excluded.value, scale_size = excluded.scale_size, source = excluded.source, "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            # The scale too: the same value on another scale is another rating (3 of 3 fits; 3 of 5 is neutral).
            "WHERE (value != excluded.value OR source != excluded.source OR scale_size != excluded.scale_size)"
            f"{keep}",
            params,
        )
        if written:
            return True
        # Nothing written: the same rating again (a redelivered event), the consent no longer covers it, or a
        # button rating kept.
        if consent_version is not None:
            await self._require_consent(rating.answer_id, rating.rater_hash, consent_version, RATING_LEVELS)
        if not keep_button:
            return True
        stored = await self.rating(rating.answer_id, rating.rater_hash)
        return stored is not None and (stored.value, stored.source, stored.scale_size) == (
            rating.value,
            rating.source,
            rating.scale_size,
        )

    async def delete_rating(
        self, answer_id: int, rater_hash: str, value: int | None = None, source: RatingSource | None = None
    ) -> bool:
        """Delete the member's rating; with `value` (and `source`), only if it still has that value (and was
        given that way). True if deleted."""
        sql = "DELETE FROM ratings WHERE answer_id = ? AND rater_hash = ?"
        params: tuple[object, ...] = (answer_id, rater_hash)
        if value is not None:
            sql, params = sql + " AND value = ?", (*params, value)
        if source is not None:
            sql, params = sql + " AND source = ?", (*params, source.value)
        async with self._transaction() as conn:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount > 0

    async def ratings_for_answer(self, answer_id: int) -> list[Rating]:
        rows = await self._fetchall(
            f"SELECT {_RATING_COLUMNS} FROM ratings WHERE answer_id = ? ORDER BY created_at, rater_hash", (answer_id,)
        )
        return [_rating(row) for row in rows]

    async def rating(self, answer_id: int, rater_hash: str) -> Rating | None:
        """One member's rating of an answer (by the primary key: the reaction hot path reads only this row)."""
        row = await self._fetchone(
            f"SELECT {_RATING_COLUMNS} FROM ratings WHERE answer_id = ? AND rater_hash = ?", (answer_id, rater_hash)
        )
        return None if row is None else _rating(row)


_RATING_COLUMNS = "answer_id, rater_hash, value, scale_size, is_asker, source, previous_value"


def _rating(row: aiosqlite.Row) -> Rating:
    return Rating(
        answer_id=int(row[0]),
        rater_hash=str(row[1]),
        value=int(row[2]),
        scale_size=int(row[3]),
        is_asker=bool(row[4]),
        source=RatingSource(row[5]),
        previous_value=None if row[6] is None else int(row[6]),
    )


def _answer_record(row: aiosqlite.Row) -> AnswerRecord:
    return AnswerRecord(
        answer_id=int(row[0]),
        guild_id=int(row[1]),
        channel_id=int(row[2]),
        asker_hash=str(row[3]),
        question=str(row[4]),
        answer=str(row[5]),
        model=str(row[6]),
        outcome=Outcome(row[7]),
        error=row[8],
        tokens_in=row[9],
        tokens_out=row[10],
        ttft_ms=row[11],
        total_ms=row[12],
        rating_scale=row[13],
    )
