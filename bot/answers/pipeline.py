"""One answer, start to finish: record it, stream it from the model into Discord, close the record.

`Answerer` also owns the answers in flight, so a shutdown can stop taking questions, let the
running answers finish within a grace period, and cleanly mark the rest as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import discord

from bot.answers.prompt import build_messages
from bot.answers.safety import NO_PINGS
from bot.answers.streaming import StreamingReply
from bot.feedback.scales import scale_named
from bot.feedback.views import answer_controls
from bot.llm.client import ModelClient, ModelError, StreamStats
from bot.pseudonyms import Pseudonymizer
from bot.scopes.manage import NO_SCOPE_MESSAGE, UNSCOPED_NOTE, ScopeCache, current_document
from bot.storage import AnswerResult, GuildSettings, NewAnswer, Outcome, Storage

log = logging.getLogger(__name__)

MODEL_FAILED_LINE = (
    "Sorry, I couldn't get an answer from the language model just now. Please try again in a few minutes."
)
INCOMPLETE_NOTE = "\n\n*(answer incomplete: the model stopped responding)*"
INTERRUPTED_NOTE = "\n\n*(answer interrupted: the bot is restarting)*"


@dataclass(frozen=True, slots=True)
class Question:
    """A member's question and where to answer it."""

    guild_id: int
    channel: discord.abc.Messageable
    channel_id: int
    asker_id: int
    text: str
    message: discord.Message | None = None  # the member's message, answered as a reply


class Answerer:
    """Runs answers as tasks and keeps track of them."""

    def __init__(
        self,
        *,
        storage: Storage,
        model: ModelClient,
        pseudonyms: Pseudonymizer,
        scopes: ScopeCache,
        edit_interval: float,
        max_chars: int,
        scope_budget: int = 8000,
    ) -> None:
        self._storage = storage
        self._scopes = scopes
        self._scope_budget = scope_budget
        self._model = model
        self._pseudonyms = pseudonyms
        self._edit_interval = edit_interval
        self._max_chars = max_chars
        self._tasks: set[asyncio.Task[Outcome]] = set()
        self.accepting = True

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def submit(self, question: Question) -> asyncio.Task[Outcome] | None:
        """Start answering in the background; None when shutting down."""
        if not self.accepting:
            return None
        task = asyncio.create_task(self.answer(question), name=f"answer:{question.channel_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, grace: float) -> None:
        """Stop taking questions; wait up to `grace` seconds, then interrupt what still runs."""
        self.accepting = False
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.info("interrupting %d answer(s) still running after %.0fs", len(pending), grace)
            await asyncio.gather(*pending, return_exceptions=True)

    async def answer(self, question: Question) -> Outcome:
        """Answer one question; every path ends with the record closed and nothing left hanging."""
        current = await current_document(self._storage, self._scopes, question.guild_id)
        settings = await self._storage.guild_settings(question.guild_id)
        if current is None and not settings.allow_unscoped:
            await _say(question, NO_SCOPE_MESSAGE)
            return Outcome.REFUSED
        scope_version, scope = current if current else (None, None)
        messages = build_messages(question.text, scope=scope, scope_budget=self._scope_budget)
        answer_id = await self._storage.start_answer(
            NewAnswer(
                guild_id=question.guild_id,
                channel_id=question.channel_id,
                question_message_id=question.message.id if question.message else None,
                asker_hash=self._pseudonyms.member(question.asker_id),
                question=question.text,
                model=self._model.model,
                scope_version_id=scope_version.version_id if scope_version else None,
            )
        )

        async def register(message: discord.Message, part: int) -> None:
            await self._storage.add_answer_message(answer_id, message.id, question.channel_id, part)

        reply = StreamingReply(
            question.channel,
            reply_to=question.message,
            edit_interval=self._edit_interval,
            max_chars=self._max_chars,
            on_message=register,
        )
        stats = StreamStats()
        outcome, error, note = Outcome.OK, None, "" if scope else UNSCOPED_NOTE
        try:
            with contextlib.suppress(discord.HTTPException):
                await question.channel.typing()
            async for delta in self._model.stream(messages, stats):
                await reply.push(delta)
        except ModelError as failure:
            error = str(failure)
            outcome, note = (Outcome.INCOMPLETE, INCOMPLETE_NOTE + note) if reply.text else (Outcome.FAILED, "")
            log.warning("answer %d: %s", answer_id, error)
        except discord.HTTPException as failure:
            error = f"Discord refused a message: {failure.status} {failure.text}"
            outcome = Outcome.INCOMPLETE if reply.messages else Outcome.FAILED
            log.warning("answer %d: %s", answer_id, error)
        except asyncio.CancelledError:
            await self._close(
                answer_id, reply, stats, settings, Outcome.INCOMPLETE, "interrupted by shutdown", INTERRUPTED_NOTE
            )
            raise
        if outcome is Outcome.OK and not reply.text.strip():
            outcome, error = Outcome.FAILED, "the model returned no text"
        await self._close(answer_id, reply, stats, settings, outcome, error, note)
        return outcome

    async def _close(
        self,
        answer_id: int,
        reply: StreamingReply,
        stats: StreamStats,
        settings: GuildSettings,
        outcome: Outcome,
        error: str | None,
        note: str,
    ) -> None:
        """Final edit (or the polite failure line), rating controls, and the closed record."""
        scale = scale_named(settings.rating_scale)
        try:
            buttons = settings.rating_controls in ("buttons", "both") and bool(reply.text.strip())
            messages = await reply.finish(note, view=answer_controls(answer_id, scale) if buttons else None)
            if not messages and outcome is not Outcome.OK:
                await reply.send_line(MODEL_FAILED_LINE)
            elif messages and settings.rating_controls in ("reactions", "both"):
                for emoji in scale.emojis:
                    await messages[-1].add_reaction(emoji)
        except discord.HTTPException as failure:
            log.warning("answer %d: could not finish the Discord message: %s", answer_id, failure)
        finally:
            # Shielded: the record must close even if shutdown cancels us again right here.
            await asyncio.shield(
                self._storage.finish_answer(
                    answer_id,
                    AnswerResult(
                        answer=reply.text,
                        outcome=outcome,
                        error=error,
                        tokens_in=stats.tokens_in,
                        tokens_out=stats.tokens_out,
                        tokens_estimated=stats.tokens_estimated,
                        ttft_ms=stats.ttft_ms,
                        total_ms=stats.total_ms,
                    ),
                )
            )


async def _say(question: Question, text: str) -> None:
    """A one-off line in reply to the question (not an answer: no record, no rating controls)."""
    try:
        if question.message is not None:
            await question.message.reply(text, allowed_mentions=NO_PINGS, mention_author=False)
        else:
            await question.channel.send(text, allowed_mentions=NO_PINGS)
    except discord.HTTPException as error:
        log.warning("could not reply in channel %d: %s", question.channel_id, error)
