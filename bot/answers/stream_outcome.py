"""What a model stream into Discord came to: the answer's outcome, the error for its record, the note its final
edit shows, and the line a member gets when no text came.

`stream_reply` runs the stream into a `StreamingReply`, turning model and Discord failures into that outcome;
`settle` reads the rest from how the stream ended (no text, the length limits, a provider's filter, no end
marker). Members' answers and moderators' `/scope preview` share both, so a preview ends as an answer would.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from openai.types.chat import ChatCompletionMessageParam

from bot.answers.streaming import StreamingReply
from bot.errors import DISCORD_FAILURES, discord_failure
from bot.llm.client import FILTERED, LENGTH_REASONS, QUOTA, ModelClient, ModelError, StreamStats
from bot.storage import Outcome

log = logging.getLogger(__name__)

MODEL_FAILED_LINE = (
    "Sorry, I couldn't get an answer from the language model just now. Please try again in a few minutes."
)
# When the model endpoint refused the request itself (after the client's retries of 429 and 5xx), trying again
# in a few minutes does not help: the question (with the conversation so far) was refused, or the bot's model
# settings are wrong.
PROMPT_REFUSED_LINE = (
    "Sorry, the language model refused this question: it may be too long together with the conversation so far, "
    "or blocked by the model provider's filter. Try asking it in fewer words, or as a new question."
)
MODEL_SETUP_LINE = (
    "Sorry, I can't reach my language model: the bot's model settings need fixing. Please tell a moderator."
)
MODEL_QUOTA_LINE = (
    "Sorry, I can't answer for now: the bot's language model account has run out of credits or quota. Please tell "
    "a moderator."
)
INCOMPLETE_NOTE = "\n\n*(answer incomplete: the model stopped responding)*"
DISCORD_ERROR_NOTE = "\n\n*(answer incomplete: Discord refused a message while it was being written)*"
LENGTH_NOTE = "\n\n*(shortened: the model's length limit was reached)*"
LENGTH_ERROR = "cut off: the model's length limit was reached (finish_reason {reason!r})"
STOPPED_EARLY_NOTE = "\n\n*(answer incomplete: the model stopped before finishing it)*"
FILTERED_NOTE = "\n\n*(answer incomplete: the model provider's content filter stopped it)*"
# finish_reason values that say the text may stop mid-way (length limits, LENGTH_REASONS, have their own note;
# 'insufficient_system_resource' is DeepSeek's server running out of capacity mid-answer). Any other value is taken
# as the model ending its answer: servers name that differently (stop, eos, eos_token, end_turn, stop_sequence).
STOPPED_EARLY = frozenset(
    {"content_filter", "error", "abort", "cancelled", "tool_calls", "function_call", "insufficient_system_resource"}
)
NO_TEXT_ERROR = "the model returned no text"
REASONING_CUT_ERROR = "the model's length limit was reached while it was still reasoning: no answer text came"
SHORTENED_ERROR = "cut off: the answer reached the server's length limit (max_chars); the model was stopped"
UNFINISHED_ERROR = "the model's stream ended without a finish_reason or [DONE]: the answer may be cut off"


@dataclass(frozen=True, slots=True)
class Streamed:
    """How a stream ended. `note` goes before any note of the caller's own (e.g. the unscoped note)."""

    outcome: Outcome = Outcome.OK
    error: str | None = None
    note: str = ""
    failed_line: str = MODEL_FAILED_LINE  # shown instead of an answer when no text came


def model_failed_line(failure: ModelError) -> str:
    """What a member is told when the model gave no answer text: a refused request is not worth retrying."""
    if failure.refusal == QUOTA:
        return MODEL_QUOTA_LINE
    if failure.status in (400, 413, 422) or failure.refusal == FILTERED:
        return PROMPT_REFUSED_LINE
    if failure.status in (401, 403, 404):
        return MODEL_SETUP_LINE
    return MODEL_FAILED_LINE


async def stream_reply(
    model: ModelClient,
    messages: list[ChatCompletionMessageParam],
    reply: StreamingReply,
    stats: StreamStats,
    *,
    where: str,
    on_text: Callable[[], None] | None = None,
) -> Streamed:
    """Stream the model's answer into `reply` (until the model ends or the reply's length limit is reached); a
    model error or a message Discord refused ends it early. `where` names the answer in log lines; `on_text` is
    called at the first text. Not finished: the caller makes the final edit with the note (see `settle`)."""
    try:
        # Nothing would show before the next edit is due, so the stream is not read until then: the tokens wait
        # in the kernel and come together, instead of waking the bot for each one (a busy bot streams thousands a
        # second). Once the model has finished, the rest is read at once.
        deltas = model.stream(messages, stats, pace=reply.next_render_in)
        async with contextlib.aclosing(deltas):
            async for delta in deltas:
                if on_text is not None:
                    on_text()
                    on_text = None
                # The model's last text is shown by the final edit, not by one more edit just before it.
                await reply.push(delta, more=stats.finish_reason is None)
                if reply.truncated:
                    break  # the rest would not be shown: closing the stream stops the model writing it
    except ModelError as failure:
        log.warning("%s: %s", where, failure)
        if reply.text:
            return Streamed(Outcome.INCOMPLETE, str(failure), INCOMPLETE_NOTE, model_failed_line(failure))
        return Streamed(Outcome.FAILED, str(failure), "", model_failed_line(failure))
    except DISCORD_FAILURES as failure:
        error = f"Discord refused a message: {discord_failure(failure)}"
        log.warning("%s: %s", where, error)
        # The final edit (or, when even the first message failed, a new one) shows what was written, and says it
        # stops there: without the note a cut-off answer looked whole.
        if reply.text.strip():
            return Streamed(Outcome.INCOMPLETE, error, DISCORD_ERROR_NOTE)
        return Streamed(Outcome.FAILED, error)
    return Streamed()


def settle(streamed: Streamed, reply: StreamingReply, stats: StreamStats) -> Streamed:
    """A stream that ended without a failure, judged by how it ended (unchanged when it failed)."""
    if streamed.outcome is not Outcome.OK:
        return streamed
    if not reply.text.strip():
        error = REASONING_CUT_ERROR if stats.reasoning_cut_off else NO_TEXT_ERROR
        if stats.finish_reason in STOPPED_EARLY:
            error += f" (finish_reason {stats.finish_reason!r})"
        return replace(streamed, outcome=Outcome.FAILED, error=error)
    if reply.truncated:
        return replace(streamed, outcome=Outcome.INCOMPLETE, error=SHORTENED_ERROR)
    if stats.finish_reason in LENGTH_REASONS:
        error = LENGTH_ERROR.format(reason=stats.finish_reason)
        return replace(streamed, outcome=Outcome.INCOMPLETE, error=error, note=LENGTH_NOTE + streamed.note)
    if stats.finish_reason in STOPPED_EARLY:
        filtered = stats.finish_reason == "content_filter"
        error = f"the model stopped early (finish_reason {stats.finish_reason!r}): the answer may be cut off"
        note = (FILTERED_NOTE if filtered else STOPPED_EARLY_NOTE) + streamed.note
        return replace(streamed, outcome=Outcome.INCOMPLETE, error=error, note=note)
    if stats.finish_reason is None and not stats.done:
        # The response ended cleanly but without the protocol's end: nothing says the answer was complete.
        return replace(streamed, outcome=Outcome.INCOMPLETE, error=UNFINISHED_ERROR)
    return streamed
