"""One answer, start to finish: limits, prompt, record, stream from the model into Discord, close the record.

`Answerer` also owns the answers in flight: a member's second question waits for the first instead of
interleaving (one at most: a third is refused while those two are pending), and a shutdown can stop taking
questions, let running answers finish within a grace period, and cleanly mark the rest as interrupted.

Nothing waits on the database between a question and its model request: settings and the current scope
come from the storage's memory, the day's token use from `DailyTokens`, and the answer's record is written
while the request is under way (the first Discord message waits for it, so every message sent belongs to
a recorded answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import discord
from openai.types.chat import ChatCompletionMessageParam

from bot.answers.budget import DailyTokens, renewal, utc_day
from bot.answers.cues import extract_cues
from bot.answers.prompt import PromptParts, Turn, build_messages
from bot.answers.retrieval import select_sections
from bot.answers.stream_outcome import MODEL_FAILED_LINE, settle, stream_reply
from bot.answers.streaming import Send, StreamingReply
from bot.answers.tokens import trim_history
from bot.errors import DISCORD_FAILURES, discord_failure
from bot.feedback.privacy import rename_question_threads
from bot.feedback.scales import scale_named
from bot.feedback.views import answer_controls
from bot.llm.client import ModelClient, StreamStats
from bot.pseudonyms import Pseudonymizer
from bot.scopes.comparisons import assign_arm
from bot.scopes.document import ScopeDocument
from bot.scopes.manage import NO_SCOPE_MESSAGE, UNSCOPED_NOTE, ScopeCache
from bot.storage import SYSTEM_ACTOR, AnswerResult, GuildSettings, NewAnswer, Outcome, Storage, sqlite_timestamp

log = logging.getLogger(__name__)

SCOPE_UNREADABLE_LINE = (
    "Sorry, this server's scope cannot be read, so I can't answer just now. Moderators can fix it with "
    "`/scope upload` or `/scope rollback`."
)
SETUP_ERROR = "internal error before the model was asked (see the bot's log)"
NOT_SHOWN_ERROR = "no message of the answer could be posted"
FINAL_EDIT_ERROR = "the final edit, with the answer's end, failed"
DELETED_QUESTION = "(a question since deleted)"  # in the history, where the member asked for it to be forgotten
INTERRUPTED_NOTE = "\n\n*(answer interrupted: the bot is restarting)*"
BOT_ERROR_NOTE = "\n\n*(answer incomplete: something went wrong on the bot's side)*"
# A failure of the bot's own (its database: a full disk, say), not the model's: trying again soon may not help.
BOT_FAILED_LINE = (
    "Sorry, something went wrong on my side and I couldn't answer. The people running me can see what in my log; "
    "please try again later."
)
TYPING_AFTER = 0.1  # seconds after the model request; cancelled if the first text comes sooner
TYPING_EVERY = 8.0  # seconds between "is typing" indicators until the first text (Discord shows one for ~10 s)
PROGRESS_EVERY = 5.0  # seconds between saves of a streaming answer's text: what a crash can lose of its record
FORGOTTEN_LINE = "You asked me to forget your data after asking this, so I did not answer it; ask again if you like."
FORGOTTEN_KEPT = 3600.0  # seconds a forget is remembered for questions still waiting (longer than any answer takes)
LISTED_CHANNELS = 20  # answer channels named in the line refusing a question asked elsewhere
HISTORY_TOKENS = 1500  # earlier turns of a conversation kept in the prompt, newest first


@dataclass(frozen=True, slots=True)
class Question:
    """A member's question and where its answer goes."""

    guild_id: int
    channel_id: int
    asker_id: int
    text: str
    send: Send  # posts the answer's messages (see bot/answers/senders.py)
    message: discord.Message | None = None  # the member's message, when asked by message
    parent_channel_id: int | None = None  # the channel a thread belongs to
    parent_answer_id: int | None = None  # the answer this question replies to
    # In the bot's thread: the question continues from the thread's latest answer, found when it starts (after
    # the member's earlier questions there, which may still be waiting or streaming when it is asked).
    continues_thread: bool = False
    # Once the question is accepted (not refused), where its answer goes instead: e.g. a thread of its own.
    open_thread: Callable[[Question], Awaitable[Question]] | None = None
    ephemeral: bool = False
    typing: Callable[[], Awaitable[object]] | None = None  # shows "is typing" until the first text
    # Whether a channel of the server exists (None: not known, every listed channel is named to the member).
    channel_exists: Callable[[int], bool] | None = None
    # Where a one-off line (a refusal, a notice) goes when it is not for everyone to see: a public /ask's "thinking"
    # is public, and a cooldown or a refusal is the asker's business. None: with `send`.
    say_privately: Callable[[str], Awaitable[object]] | None = None
    asked_at: float = dataclasses.field(default_factory=time.monotonic)  # when the bot got it (monotonic clock)


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # for the record
    line: str  # for the member


RESTARTING = Refusal("the bot was shutting down", "I'm restarting; please ask again in a minute.")
NO_ANSWER_CHANNEL = Refusal(
    "channel not enabled",
    "I'm not answering questions anywhere in this server right now: the channels I answered in were deleted. "
    "Moderators: `/setup` shows how to choose where I answer.",
)
RESTARTING_SECONDS = 3.0  # how long a shutdown waits to tell a member their question was not answered

BUSY = Refusal(
    "previous answer still running",
    "I'm still answering your previous question, and your next one is already waiting; ask again when I'm done.",
)


ANSWERS_OFF = Refusal(
    "daily token budget",
    "Answers are switched off in this server (its daily token budget is 0); a moderator can switch them on with "
    "`/answers settings daily_token_budget`.",
)
BUDGET_SPENT_LINE = (
    "This server has used today's answer budget; it renews at 00:00 UTC ({renews}). Moderators can raise it with "
    "`/answers settings`."
)
# A moderator's /scope preview costs what an answer costs, so the same budget refuses it (nothing is recorded).
PREVIEW_OFF_LINE = (
    "No preview: previews use this server's daily token budget, and it is 0 (answers are switched off). Raise it "
    "with `/answers settings daily_token_budget`."
)
PREVIEW_SPENT_LINE = (
    "No preview: this server has used today's token budget, which previews share with answers; it renews at "
    "00:00 UTC ({renews}). Raise it with `/answers settings daily_token_budget`, or preview once it has renewed."
)


class ScopeUnreadable(Exception):
    """The server's current scope version does not parse (e.g. stored under older rules)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A question accepted and ready for the model."""

    question: Question  # where the answer goes (its own thread, when one was opened)
    settings: GuildSettings
    messages: list[ChatCompletionMessageParam]
    new_answer: NewAnswer
    scoped: bool


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
        self._model = model
        self._pseudonyms = pseudonyms
        self._scopes = scopes
        self._scope_budget = scope_budget
        self._edit_interval = edit_interval
        self._max_chars = max_chars
        self._tasks: set[asyncio.Task[Any]] = set()  # answers running (their own tasks or listeners')
        self._renames: set[asyncio.Task[None]] = set()  # threads of forgotten members' questions being renamed
        self._member_locks: dict[tuple[int, int], asyncio.Lock] = {}
        self._member_waiting: dict[tuple[int, int], int] = {}
        self._last_start: dict[tuple[int, int], float] = {}
        self._exempt_running: set[tuple[int, int]] = set()  # members whose current answer skipped the cooldown
        # Each member's latest answer when it was a clarifying question: the member's reply to it is not held to the
        # cooldown (the bot asked; it counts from the question's start, and a quick reply would be refused).
        self._asked_back: dict[tuple[int, int], int] = {}
        self._forgotten: dict[int, float] = {}  # members who asked to be forgotten, and when (monotonic clock)
        self._tokens = DailyTokens(storage)
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

    async def run(self, question: Question) -> Outcome | None:
        """Answer in the calling task (an event listener's); None when shutting down.

        The same as `submit` but one turn of the event loop sooner: a new task would wait for everything
        already queued on a busy loop before it started, and the model request waits with it.
        """
        task = asyncio.current_task()
        if not self.accepting or task is None:
            return None
        self._tasks.add(task)
        try:
            return await self.answer(question)
        finally:
            self._tasks.discard(task)

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
        """Answer one question after the member's earlier ones; every path leaves nothing hanging."""
        key = (question.guild_id, question.asker_id)
        ahead = self._member_waiting.get(key, 0)  # the member's answer running, and any question waiting for it
        if ahead > 1:  # one question may wait for a running answer; more would just pile up
            return await self._refuse(question, BUSY)
        lock = self._member_locks.setdefault(key, asyncio.Lock())
        self._member_waiting[key] = ahead + 1
        # A question asked while the member's previous answer streams waits its turn, and the cooldown, counted
        # from that answer's start, would refuse it for having waited: it is exempt, but only behind an answer
        # that was itself held to the cooldown. Otherwise asking during each answer would chain exemptions and
        # make the cooldown moot.
        check_cooldown = not ahead or key in self._exempt_running
        try:
            try:
                await lock.acquire()
            except asyncio.CancelledError:  # a shutdown, while the question waited for the member's previous one
                await self._interrupted(question)
                raise
            if check_cooldown:
                self._exempt_running.discard(key)
            else:
                self._exempt_running.add(key)
            try:
                return await self._answer(question, check_cooldown=check_cooldown)  # its start restarts the cooldown
            finally:
                lock.release()
        finally:
            self._member_waiting[key] -= 1
            if not self._member_waiting[key]:
                del self._member_waiting[key], self._member_locks[key]
                self._exempt_running.discard(key)

    def forget(self, user_id: int) -> None:
        """The member asked to be forgotten: their questions asked before this and still waiting for an earlier
        answer of theirs are dropped, not recorded (their record would be written after the deletion)."""
        now = time.monotonic()
        self._forgotten = {user: at for user, at in self._forgotten.items() if now - at < FORGOTTEN_KEPT}
        self._forgotten[user_id] = now

    def _was_forgotten(self, question: Question) -> bool:
        """Whether the member asked to be forgotten after asking this."""
        return self._forgotten.get(question.asker_id, -math.inf) >= question.asked_at

    async def _answer(self, question: Question, *, check_cooldown: bool) -> Outcome:
        if self._was_forgotten(question):
            await _say(question, FORGOTTEN_LINE)
            return Outcome.REFUSED  # and not recorded: the member asked for their data to be deleted
        held = _Held()
        try:
            return await self._answer_held(question, held, check_cooldown=check_cooldown)
        finally:
            self._tokens.release(question.guild_id, held.tokens)

    async def _answer_held(self, question: Question, held: _Held, *, check_cooldown: bool) -> Outcome:
        # Nothing before the model request may leave the member without a reply (nor /ask on "thinking…").
        try:
            prepared = await self._prepare(question, held, check_cooldown=check_cooldown)
        except asyncio.CancelledError:  # a shutdown before the model was asked
            await self._interrupted(question)
            raise
        except ScopeUnreadable as error:
            log.exception("answer to %s: the server's current scope cannot be read", _where(question))
            return await self._unanswered(question, Outcome.FAILED, str(error), SCOPE_UNREADABLE_LINE)
        except Exception:
            log.exception("answer to %s failed before the model was asked", _where(question))
            return await self._unanswered(question, Outcome.FAILED, SETUP_ERROR, BOT_FAILED_LINE)
        if isinstance(prepared, Outcome):
            return prepared
        return await self._stream(prepared)

    async def _prepare(self, question: Question, held: _Held, *, check_cooldown: bool) -> Prepared | Outcome:
        """Limits, scope, history and prompt; an Outcome when the question is refused."""
        settings = await self._storage.guild_settings(question.guild_id)
        asker = self._pseudonyms.member(question.asker_id)
        refusal = await self._check_limits(question, settings, held, check_cooldown=check_cooldown)
        if refusal is not None:
            return await self._refuse(question, refusal)
        scope_version = await self._storage.current_scope(question.guild_id)
        scope = None
        if scope_version is not None:
            try:
                scope = self._scopes.document(scope_version)
            except Exception as error:  # stored under older rules, or a text today's parser cannot take
                raise ScopeUnreadable(f"the current scope (version {scope_version.number}) does not parse") from error
        if scope is None and not settings.allow_unscoped:
            # Recorded like every refusal: research counts every question, answered or not.
            return await self._refuse(question, Refusal("no scope declared", NO_SCOPE_MESSAGE))
        self._last_start[(question.guild_id, question.asker_id)] = time.monotonic()
        comparison_id, arm = None, None
        if scope_version is not None:
            # A randomized comparison of scope versions (bot/scopes/comparisons.py); in memory, like the scope.
            comparison = await self._storage.running_comparison(question.guild_id)
            if comparison is not None and comparison.current.version_id == scope_version.version_id:
                assigned = assign_arm(comparison.comparison_id, asker, comparison.alternative_share)
                version = comparison.version(assigned)
                try:
                    scope = self._scopes.document(version)
                except Exception:  # checked at the start; a later parser may still refuse it
                    # Its members would silently get the current version and drop out of one arm only: the
                    # comparison ends instead, for everyone, visibly (/scope compare-status, the audit log).
                    log.warning(
                        "comparison %s: its %s version does not parse; ending the comparison",
                        comparison.comparison_id,
                        assigned,
                        exc_info=True,
                    )
                    await self._storage.end_comparison(
                        question.guild_id,
                        SYSTEM_ACTOR,
                        f"version {version.number} no longer passes validation",
                        only=comparison.comparison_id,  # not one a moderator started meanwhile
                    )
                else:
                    comparison_id, arm, scope_version = comparison.comparison_id, assigned, version

        if question.continues_thread and question.parent_answer_id is None:
            latest = await self._storage.latest_answer_in(question.channel_id)
            question = dataclasses.replace(question, parent_answer_id=latest.answer_id if latest else None)
        history = await self._history(question.parent_answer_id)
        if comparison_id is not None and arm is not None and question.parent_answer_id is not None:
            arms = await self._storage.conversation_arms(question.parent_answer_id)
            if arms - {(comparison_id, arm.value)}:
                # The conversation holds an answer outside this arm of this comparison (another member's in the
                # other arm, in a shared thread or a reply to their answer, one left out, or one from before the
                # comparison): this answer would reflect more than its arm's version, so it is left out of the
                # comparison. The member still gets their own version. The rule is the same for both arms: keeping
                # pre-comparison conversations only where the version did not change would bias the comparison.
                comparison_id, arm = None, None
        # From the member's own earlier questions only: what another member said of themselves (their identities,
        # whom they talk to) is not this member's, and stored with this answer it would outlive that member's
        # `/privacy forget` and the purge of their question.
        own = [turn.text for turn in history if turn.role == "user" and turn.asker == asker]
        cues = extract_cues(question.text, own)
        # What the member asked before (the topic a short follow-up such as "my manager" refers to), not the bot's
        # last turn, which is often its clarifying question.
        context = " ".join(turn.text for turn in history if turn.role == "user")
        sections = select_sections(question.text, scope, self._scope_budget, context=context) if scope else []
        messages = build_messages(
            PromptParts(
                question=question.text,
                scope=scope,
                sections=sections,
                instructions=settings.instructions,
                cues=cues.to_prompt(
                    just_asked=bool(history) and history[-1].role == "assistant" and asked_back(history[-1].text),
                    asked_earlier=any(turn.role == "assistant" and asked_back(turn.text) for turn in history),
                ),
                language=settings.answer_language or cues.language,
                server_language=settings.answer_language,
                history=history,
            )
        )
        if self._was_forgotten(question):  # again: preparing took a few awaits, and the record comes next
            await _say(question, FORGOTTEN_LINE)
            return Outcome.REFUSED
        if question.open_thread is not None:
            question = await question.open_thread(question)
        new_answer = self._new_answer(
            question,
            asker,
            scope_version_id=scope_version.version_id if scope_version else None,
            cues=cues.to_record(),
            sections=tuple(section.title for section in sections),
            comparison_id=comparison_id,
            arm=arm,
            rating_scale=scale_named(settings.rating_scale).name,  # what `_close` shows its controls with
        )
        return Prepared(question, settings, messages, new_answer, scoped=scope is not None)

    async def _stream(self, prepared: Prepared) -> Outcome:
        """The model's answer into Discord, and its record."""
        question, settings, messages = prepared.question, prepared.settings, prepared.messages
        # The record is written while the model request goes out; the first message waits for its id.
        record = asyncio.ensure_future(self._start_record(question, prepared.new_answer, messages))
        started_on = utc_day()

        async def register(message: discord.Message, part: int) -> None:
            # Shielded: cancelling this wait (a shutdown) must not cancel the record's own task, which the
            # shutdown path still needs to close the answer.
            await self._storage.add_answer_message(await asyncio.shield(record), message.id, question.channel_id, part)

        async def send(content: str, view: discord.ui.View | None) -> discord.Message:
            # The record before the message: a crash between Discord making a message and its link being written
            # then leaves a record for the next start to find the message by (bot/answers/interrupted.py). It is
            # written while the model request goes out, so it is there by the first text. A cancelled wait leaves it
            # running. When it failed (the database failing), no message goes out: nothing could be linked to it, and
            # the member is told the bot failed (raised here, the failure ends the stream).
            if not record.done():
                await asyncio.wait([record])
            record.result()
            return await question.send(content, view)

        reply = StreamingReply(send, edit_interval=self._edit_interval, max_chars=self._max_chars, on_message=register)
        stats = StreamStats()
        # "is typing" goes out a moment after the model request, not before or with it: its REST call (or a
        # rate limit on it) must not delay the question reaching the model, and a fast first token makes it moot.
        typing = asyncio.create_task(_show_typing(question)) if question.typing is not None else None

        def answer_shows() -> None:
            nonlocal typing
            if typing is not None:
                typing.cancel()  # the answer itself shows from now on (a sent indicator is harmless)
                typing = None

        progress = asyncio.create_task(self._keep_progress(record, reply))
        try:
            try:
                streamed = await stream_reply(
                    self._model, messages, reply, stats, where=f"answer to {_where(question)}", on_text=answer_shows
                )
            finally:
                progress.cancel()  # the final write follows (or the shutdown's, or the restart's closing)
                if typing is not None and not typing.done():
                    typing.cancel()
            answer_id = await asyncio.shield(record)
        except asyncio.CancelledError:
            recorded = await _recorded(record)
            if recorded is not None:
                # A message whose link was being written when the shutdown came may not be linked yet.
                for part, message in enumerate(reply.messages):
                    await self._storage.add_answer_message(recorded, message.id, question.channel_id, part)
                # Before any text, no member saw an answer: the member is told to ask again, and research does not
                # count it as shown.
                shown = bool(reply.messages)
                await self._close(
                    recorded,
                    question,
                    reply,
                    stats,
                    settings,
                    Outcome.INCOMPLETE if shown else Outcome.FAILED,
                    "interrupted by shutdown" + ("" if shown else " before any text"),
                    INTERRUPTED_NOTE,
                    started_on,
                    RESTARTING.line,
                )
            raise
        except Exception:
            # A bug or a database failure: leave no message with a cursor, close the record if there is one.
            log.exception("answer to %s failed", _where(question))
            with contextlib.suppress(*DISCORD_FAILURES):  # the record is closed below whatever Discord does
                if reply.messages:
                    await reply.finish(BOT_ERROR_NOTE)
                else:  # not through the reply, whose messages wait for the record (which may be what failed)
                    await question.send(BOT_FAILED_LINE, None)
            recorded = await _recorded(record)
            if recorded is not None:
                await self._finish_record(
                    recorded,
                    question.guild_id,
                    started_on,
                    reply,
                    stats,
                    Outcome.FAILED,
                    "internal error (see the bot's log)",
                )
            return Outcome.FAILED
        streamed = settle(streamed, reply, stats)
        note = streamed.note
        if streamed.outcome is not Outcome.FAILED and not prepared.scoped:
            note += UNSCOPED_NOTE
        await self._close(
            answer_id,
            question,
            reply,
            stats,
            settings,
            streamed.outcome,
            streamed.error,
            note,
            started_on,
            streamed.failed_line,
        )
        key = (question.guild_id, question.asker_id)
        if streamed.outcome is Outcome.OK and not question.ephemeral and asked_back(reply.text):
            self._asked_back[key] = answer_id
        else:
            self._asked_back.pop(key, None)
        return streamed.outcome

    async def _keep_progress(self, record: asyncio.Future[int], reply: StreamingReply) -> None:
        """Save the answer's text so far every PROGRESS_EVERY seconds while it streams: a crash then loses at most
        that much of it from the record (its messages are closed from Discord at the next start). Cancelled when the
        stream ends; a save that fails is logged, and the final write does not depend on it."""
        try:
            answer_id = await asyncio.shield(record)
        except Exception:
            return  # the answer itself reports a record that could not be written
        saved = ""
        try:
            while True:
                await asyncio.sleep(PROGRESS_EVERY)
                if reply.text != saved:
                    saved = reply.text
                    # Only while the answer is still streaming: a save that lands after the final write changes
                    # nothing.
                    await self._storage.save_answer_progress(answer_id, saved)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("could not keep a streaming answer's text so far: %r", error)

    async def _start_record(
        self, question: Question, new: NewAnswer, messages: list[ChatCompletionMessageParam]
    ) -> int:
        # The prompt's hash is computed here, after the request has been written, to keep it off that path. This
        # task starts before aiohttp's task that writes the request (on Python 3.11 aiohttp writes a request's
        # body from a task of its own): one turn of the loop first lets the request go out.
        await asyncio.sleep(0)
        prompt_hash = self._pseudonyms.prompt(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode())
        answer_id = await self._storage.start_answer(dataclasses.replace(new, prompt_sha256=prompt_hash))
        await self._unlink_if_forgotten(question, answer_id)
        return answer_id

    async def _unlink_if_forgotten(self, question: Question, answer_id: int) -> None:
        """A question's record just written: if its member was forgotten after the last check (while the thread
        opened, limits were read, or the record was written), the deletion may have run before the record existed,
        so it is unlinked as the deletion would have. (`forget` is noted before the deletion starts: a later
        deletion finds the record itself.)"""
        if not self._was_forgotten(question):
            return
        try:
            await self._storage.forget_question(answer_id)
        except Exception:  # the answer goes on; the member's next /privacy forget unlinks it
            log.exception("could not unlink answer %d from its forgotten asker", answer_id)
            return
        # In the background: the answer's first message waits for this record, not for Discord's renames (the
        # thread is queued for the hourly retry too).
        task = asyncio.create_task(_rename_forgotten_thread(self._storage, question), name="rename forgotten thread")
        self._renames.add(task)
        task.add_done_callback(self._renames.discard)

    async def preview(
        self, text: str, scope: ScopeDocument | None, settings: GuildSettings, send: Send, *, heading: str = ""
    ) -> str:
        """How the bot would answer under `scope`, streamed to `send` after `heading`; its text.

        Nothing of it is recorded but its tokens, which count toward the server's daily budget as an answer's do:
        a preview the budget has no room for gets the line saying so (and when the budget renews) instead.
        """
        guild_id = settings.guild_id
        task = asyncio.current_task()
        if not self.accepting or task is None:
            await send(RESTARTING.line, None)
            return ""
        # A running preview is one of the answers a shutdown waits for, then interrupts (`drain`).
        self._tasks.add(task)
        held = _Held()
        try:
            refused = await self._hold_budget(settings, held)
            if refused is not None:
                line = PREVIEW_OFF_LINE if refused == "off" else PREVIEW_SPENT_LINE.format(renews=renewal())
                await send(line, None)
                return ""
            if heading:
                await send(heading, None)
            started = datetime.now(UTC)
            stats = StreamStats()
            try:
                return await self._stream_preview(text, scope, settings, send, stats)
            finally:
                # Shielded: a shutdown cancelling the preview still counts what it used.
                await asyncio.shield(self._count_preview(guild_id, stats, started))
        finally:
            self._tokens.release(guild_id, held.tokens)
            self._tasks.discard(task)

    async def _stream_preview(
        self, text: str, scope: ScopeDocument | None, settings: GuildSettings, send: Send, stats: StreamStats
    ) -> str:
        cues = extract_cues(text)
        sections = select_sections(text, scope, self._scope_budget) if scope else []
        messages = build_messages(
            PromptParts(
                question=text,
                scope=scope,
                sections=sections,
                instructions=settings.instructions,
                cues=cues.to_prompt(),
                language=settings.answer_language or cues.language,
                server_language=settings.answer_language,
            )
        )
        reply = StreamingReply(send, edit_interval=self._edit_interval, max_chars=self._max_chars)
        try:
            streamed = settle(
                await stream_reply(self._model, messages, reply, stats, where="a scope preview"), reply, stats
            )
        except asyncio.CancelledError:
            # A shutdown: as an answer, the preview says it was interrupted instead of keeping its cursor.
            if reply.messages:
                with contextlib.suppress(*DISCORD_FAILURES):
                    await reply.finish(INTERRUPTED_NOTE)
            raise
        note = streamed.note + ("" if scope is not None else UNSCOPED_NOTE)
        # As an answer ends (bot/answers/stream_outcome.py), without the rating controls.
        try:
            # As `_close`: finishing first also removes reasoning shown and taken back when no answer followed.
            if not await reply.finish(note) and streamed.outcome is not Outcome.OK:
                await reply.send_line(streamed.failed_line)
        except DISCORD_FAILURES as failure:
            log.warning("a scope preview: could not finish the Discord message: %s", failure)
        return reply.text

    async def _count_preview(self, guild_id: int, stats: StreamStats, started: datetime) -> None:
        """A preview's tokens into the server's day, kept in the database for a restart's count too."""
        tokens = (stats.tokens_in or 0) + (stats.tokens_out or 0)
        if not tokens:  # the model was not reached
            return
        try:
            await self._storage.record_preview_tokens(guild_id, tokens, sqlite_timestamp(started))
        except Exception:  # counted for this process all the same
            log.exception("could not record a scope preview's %d tokens", tokens)
        self._tokens.add(guild_id, tokens, utc_day(started))

    async def _check_limits(
        self, question: Question, settings: GuildSettings, held: _Held, *, check_cooldown: bool
    ) -> Refusal | None:
        """Why the question is refused, or None; when None, the answer's tokens are set aside in `held`."""
        allowed = settings.answer_channels
        if allowed and question.channel_id not in allowed and question.parent_channel_id not in allowed:
            exists = question.channel_exists
            # A deleted channel stays listed when it was the last (bot/deleted_channels.py): not offered to members.
            open_to_members = [channel for channel in allowed if exists is None or exists(channel)]
            if not open_to_members:
                return NO_ANSWER_CHANNEL
            places = ", ".join(f"<#{channel}>" for channel in open_to_members[:LISTED_CHANNELS])
            if len(open_to_members) > LISTED_CHANNELS:  # the line must fit one message however many there are
                places += f" and {len(open_to_members) - LISTED_CHANNELS} more channels"
            return Refusal("channel not enabled", f"I answer questions in {places}.")
        if check_cooldown and settings.cooldown_seconds:
            started = self._last_start.get((question.guild_id, question.asker_id))
            wait = settings.cooldown_seconds - (time.monotonic() - started) if started is not None else 0
            if wait > 0 and not await self._answers_clarifying_question(question):
                return Refusal("cooldown", f"Please wait {wait:.0f} more seconds before your next question.")
        refused = await self._hold_budget(settings, held)
        if refused == "off":
            return ANSWERS_OFF
        if refused == "spent":
            return Refusal("daily token budget", BUDGET_SPENT_LINE.format(renews=renewal()))
        return None

    async def _answers_clarifying_question(self, question: Question) -> bool:
        """Whether `question` replies to the clarifying question that was the member's latest answer (once: a
        second reply to it is held to the cooldown as usual)."""
        key = (question.guild_id, question.asker_id)
        asked = self._asked_back.get(key)
        if asked is None:
            return False
        parent = question.parent_answer_id
        if parent is None and question.continues_thread:
            latest = await self._storage.latest_answer_in(question.channel_id)
            parent = latest.answer_id if latest else None
        if parent != asked:
            return False
        del self._asked_back[key]
        # This answer skipped the cooldown: a question that waits behind it is held to the cooldown (see `run`).
        self._exempt_running.add(key)
        return True

    async def _hold_budget(self, settings: GuildSettings, held: _Held) -> Literal["off", "spent"] | None:
        """Whether the server's daily token budget refuses one more answer or preview: "off" (a budget of 0) or
        "spent"; when None, its tokens are set aside in `held` (for the caller to release once it has ended)."""
        if settings.daily_token_budget == 0:
            return "off"
        used = await self._tokens.used(settings.guild_id)
        # With the tokens set aside for answers (and previews) being written: those count as what they may use.
        if used + self._tokens.held(settings.guild_id) >= settings.daily_token_budget:
            return "spent"
        # No await between the check and this: questions checked together cannot all pass on the same total.
        held.tokens = self._model.max_tokens + self._scope_budget // 4  # the answer's most, and a typical prompt
        self._tokens.hold(settings.guild_id, held.tokens)
        return None

    async def _refuse(self, question: Question, refusal: Refusal) -> Outcome:
        return await self._unanswered(question, Outcome.REFUSED, refusal.reason, refusal.line)

    async def _unanswered(self, question: Question, outcome: Outcome, reason: str, line: str) -> Outcome:
        """Record why a question gets no answer (refused, or failed before the model was asked), and tell the
        member: research counts every question, answered or not."""
        try:
            asker = self._pseudonyms.member(question.asker_id)
            answer_id = await self._storage.record_unanswered(self._new_answer(question, asker), outcome, reason)
            await self._unlink_if_forgotten(question, answer_id)
        except Exception:  # the member is told all the same
            log.exception("could not record an unanswered question (%s)", reason)
        await _say(question, line)
        return outcome

    async def _interrupted(self, question: Question) -> None:
        """A question that a shutdown stopped before its answer began: recorded, and the member told, briefly."""
        with contextlib.suppress(Exception):  # a timeout or a failure: the shutdown goes on all the same
            await asyncio.wait_for(self._refuse(question, RESTARTING), RESTARTING_SECONDS)

    async def _history(self, parent_answer_id: int | None) -> list[Turn]:
        if parent_answer_id is None:
            return []
        # Whole exchanges, so that the turns alternate (strict chat templates refuse two user turns in a row): one
        # without an answer (failed, or interrupted before any text) is left out; an answer whose question was
        # deleted (forgotten, purged) follows a placeholder.
        turns = []
        for asked, answered, asker in await self._storage.conversation(parent_answer_id):
            if answered:
                turns += [Turn("user", asked or DELETED_QUESTION, asker), Turn("assistant", answered)]
        return trim_history(turns, HISTORY_TOKENS)

    def _new_answer(self, question: Question, asker: str, **extra: object) -> NewAnswer:
        return NewAnswer(
            guild_id=question.guild_id,
            channel_id=question.channel_id,
            question_message_id=question.message.id if question.message else None,
            asker_hash=asker,
            question=question.text,
            model=self._model.model,
            parent_answer_id=question.parent_answer_id,
            ephemeral=question.ephemeral,
            thread_parent_id=question.parent_channel_id,
            **extra,  # type: ignore[arg-type]
        )

    async def _close(
        self,
        answer_id: int,
        question: Question,
        reply: StreamingReply,
        stats: StreamStats,
        settings: GuildSettings,
        outcome: Outcome,
        error: str | None,
        note: str,
        started_on: date,
        failed_line: str = MODEL_FAILED_LINE,
    ) -> None:
        """Final edit (or the polite failure line, `failed_line`), rating controls, and the closed record."""
        scale = scale_named(settings.rating_scale)
        # Reactions cannot be added to ephemeral messages, so those always get buttons.
        buttons = settings.rating_controls in ("buttons", "both") or question.ephemeral
        reactions = settings.rating_controls in ("reactions", "both") and not question.ephemeral
        try:
            has_text = bool(reply.text.strip())
            messages = await reply.finish(
                note, view=answer_controls(answer_id, scale) if buttons and has_text else None
            )
            if not messages and outcome is not Outcome.OK:
                await reply.send_line(failed_line)
            elif messages and reactions:
                for emoji in scale.emojis:
                    await messages[-1].add_reaction(emoji)
        except DISCORD_FAILURES as failure:
            log.warning("answer %d: could not finish the Discord message: %s", answer_id, failure)
            if not reply.messages and outcome is not Outcome.FAILED:
                # Not one message reached the channel: research must not count an answer no member saw as shown.
                outcome = Outcome.FAILED
                error = f"{error + '; ' if error else ''}{NOT_SHOWN_ERROR}: {discord_failure(failure)}"
            elif not reply.ended and outcome is Outcome.OK:
                # The final edit carries the answer's last text: members saw it without its end (and with the
                # cursor), so research must not count it as finished.
                outcome = Outcome.INCOMPLETE
                error = f"{FINAL_EDIT_ERROR}: {discord_failure(failure)}"
        finally:
            # Shielded: the record must close even if shutdown cancels us again right here.
            await asyncio.shield(
                self._finish_record(answer_id, question.guild_id, started_on, reply, stats, outcome, error)
            )

    async def _finish_record(
        self,
        answer_id: int,
        guild_id: int,
        started_on: date,
        reply: StreamingReply,
        stats: StreamStats,
        outcome: Outcome,
        error: str | None,
    ) -> None:
        await self._storage.finish_answer(
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
        self._tokens.add(guild_id, (stats.tokens_in or 0) + (stats.tokens_out or 0), started_on)


@dataclass(slots=True)
class _Held:
    """Tokens set aside in the daily budget for one question's answer while it is written (none until checked)."""

    tokens: int = 0


async def _recorded(record: asyncio.Future[int]) -> int | None:
    """The answer's id once its record is written; None if writing it failed."""
    try:
        return await asyncio.shield(record)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("could not record an answer")
        return None


def _where(question: Question) -> str:
    return f"message {question.message.id}" if question.message else f"channel {question.channel_id}"


async def _show_typing(question: Question) -> None:
    """ "is typing" until cancelled (by the first text, or the stream's end): Discord shows one indicator for about
    10 seconds, and a reasoning model's thinking, or the model's retries, can keep the first text back for minutes."""
    assert question.typing is not None
    await asyncio.sleep(TYPING_AFTER)
    while True:
        with contextlib.suppress(*DISCORD_FAILURES):
            await question.typing()
        await asyncio.sleep(TYPING_EVERY)


async def _say(question: Question, text: str) -> None:
    """A one-off line in reply to the question (not an answer: no rating controls)."""
    try:
        if question.say_privately is not None:
            await question.say_privately(text)
        else:
            await question.send(text, None)
    except DISCORD_FAILURES as error:
        log.warning("could not reply in channel %d: %s", question.channel_id, error)


async def _rename_forgotten_thread(storage: Storage, question: Question) -> None:
    """Rename the thread opened from the question, if one was: its name is the start of a forgotten question."""
    message = question.message
    if message is not None and message.guild is not None and question.channel_id == message.id:
        try:
            await rename_question_threads(message.guild, storage, [question.channel_id])
        except Exception:  # a database failure: the thread stays queued for the hourly retry
            log.exception("could not rename thread %d of a forgotten member's question", question.channel_id)


CLARIFYING_AT_MOST = 300  # characters: a clarifying question is short; a whole answer may end with a question too


def asked_back(turn: str) -> bool:
    """Whether the bot's turn was a clarifying question (short, ending with a question mark, in any script)."""
    text = turn.rstrip()
    return len(text) <= CLARIFYING_AT_MOST and text.endswith(("?", "？", "؟"))
