"""Keep a model's reasoning out of the channel.

Reasoning models either send it in a separate field (`reasoning_content`, `reasoning`), which the
client leaves out (and which tells the filter the content is all answer: `reasoning_apart`), or inline
between `<think>` and `</think>` tags. `ReasoningFilter` removes the inline form from a stream whose
chunks may split a tag anywhere.

Some chat templates (DeepSeek-R1's and its distills', QwQ's, Qwen3 thinking models') put the opening
`<think>` in the prompt, so a server without a reasoning parser streams `reasoning…</think>answer`: a
closing tag with no opening one. Everything before such a tag is reasoning. A filter told to expect
this (`expect_reasoning`) holds the start of the stream back until the closing tag comes (or an
opening tag, or `HOLD_LIMIT` characters without either, or the end of the stream), so none of the
reasoning is shown. A filter not told so releases text as it comes (a normal answer's first text is as
early as ever); if a closing tag then turns up, the text it released was reasoning: the filter returns
a `Restart`, the visible text that replaces everything it returned before. `ModelClient` tells its
later streams to expect reasoning once it has seen that happen (or when the model's name says so).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

OPEN_TAGS = ("<think>", "<thinking>", "<reasoning>")
CLOSE_TAGS = tuple("</" + tag[1:] for tag in OPEN_TAGS)
_TAGS = OPEN_TAGS + CLOSE_TAGS
_LONGEST_TAG = max(map(len, _TAGS))

# Held back at the start of a stream expected to open with reasoning: past this many characters without a tag
# it is taken to be an answer after all and released. The client holds more (`hold_limit_for`): all a model may
# write, so such a model's answer shows only once its reasoning has closed, or whole at the end when it wrote no
# tag; the price of never showing reasoning, which the bot's answer limit would otherwise cut before its
# closing tag could replace it.
HOLD_LIMIT = 6000
# A model reasoning at length (its max_tokens raised, as reasoning models need) can write more than HOLD_LIMIT
# before its closing tag, and the answer shown is cut at the bot's answer limit (6,000 characters by default)
# before any restart could replace it: a client holds up to this many characters per token it allows.
MAX_CHARS_PER_TOKEN = 8


def hold_limit_for(max_tokens: int) -> int:
    """How much of a stream expected to open with reasoning is held back: all of it a model allowed `max_tokens`
    could write, and at least `HOLD_LIMIT`."""
    return max(HOLD_LIMIT, max_tokens * MAX_CHARS_PER_TOKEN)


# Models whose chat template opens the reasoning block in the prompt (their output has only `</think>`).
_REASONING_MODEL = re.compile(r"(?i)(?:^|[-_/.:])(?:r1|qwq|thinking)(?:$|[-_/.:])")


def expects_reasoning(model: str) -> bool:
    """Whether `model`'s name says it reasons with the opening tag already in the prompt."""
    return _REASONING_MODEL.search(model) is not None


class Restart(str):
    """Visible text that replaces all the visible text returned before it (that text was reasoning).

    Always true, even when empty: an empty restart still says the text so far must go.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        return True


def join_visible(texts: Sequence[str]) -> str:
    """Several pieces of visible text as one: a `Restart` among them makes the join a restart from there."""
    restarts = [index for index, text in enumerate(texts) if isinstance(text, Restart)]
    if not restarts:
        return "".join(texts)
    return Restart("".join(texts[restarts[-1] :]))


class ReasoningFilter:
    """Feed stream chunks in, get only the visible text out (a `Restart` when earlier text was reasoning)."""

    def __init__(self, *, expect_reasoning: bool = False, hold_limit: int = HOLD_LIMIT) -> None:
        self._pending = ""  # text that might be the start of a tag, held until it can be decided
        self._closing: str | None = None  # the close tag awaited while inside a reasoning block
        self._holding = expect_reasoning  # holding back the start: it may all be reasoning
        self._hold_limit = hold_limit
        self._block_seen = False  # a tag has been seen: a later stray close tag is just text
        self._released = False  # visible text has been returned
        self._after_block = False  # a block just ended: newlines after its tag are dropped, in whatever chunk
        self.unopened_close = False  # a close tag came without an opening one (the prompt opened the block)
        self.dropped_unfinished = False  # flush dropped reasoning the stream's end interrupted

    def feed(self, chunk: str) -> str:
        """Return the visible text this chunk completes (possibly empty, or a `Restart`)."""
        if (
            not self._pending
            and self._closing is None
            and not self._holding
            and not self._after_block
            and "<" not in chunk
        ):
            if chunk:
                self._released = True
            return chunk  # the common case, one call per token: nothing here can start a tag
        self._pending += chunk
        visible: list[str] = []
        restart = False
        while self._pending:
            if self._closing is not None:
                end = self._pending.lower().find(self._closing)
                if end == -1:
                    # Keep only a tail that could be the start of the close tag.
                    self._pending = self._pending[-(len(self._closing) - 1) :]
                    break
                self._pending = self._pending[end + len(self._closing) :]
                self._closing = None
                self._after_block = True
                continue
            if self._after_block:
                self._pending = self._pending.lstrip("\n")
                if not self._pending:
                    break
                self._after_block = False
            start, tag = self._find_tag()
            if tag is not None and tag in CLOSE_TAGS and self._block_seen:
                tag = None  # a stray close tag once reasoning is over: text like any other
                start = -1
            if tag is not None:
                self._block_seen = True
                self._holding = False
                if tag in OPEN_TAGS:
                    visible.append(self._pending[:start])
                    self._pending = self._pending[start + len(tag) :]
                    self._closing = "</" + tag[1:]
                    continue
                # A close tag with no opening one: everything before it, shown or not, was reasoning.
                self.unopened_close = True
                restart = restart or self._released or any(visible)
                visible.clear()
                self._pending = self._pending[start + len(tag) :]
                self._after_block = True
                continue
            if self._holding:
                if len(self._pending) <= self._hold_limit:
                    break  # still undecided: keep it all
                self._holding = False  # long enough without a tag: an answer after all
            keep = self._possible_tag_prefix_length()
            visible.append(self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep :]
            break
        text = "".join(visible)
        if text:
            self._released = True
        return Restart(text) if restart else text

    def reasoning_apart(self) -> None:
        """The server sends the model's reasoning in a field of its own (its reasoning parser took it out of the
        content): the content is the answer, so its start is not held back, nor dropped at a length cut."""
        self._holding = False

    def flush(self, *, cut_off: bool = False) -> str:
        """At the end of the stream: release held text unless it is an unfinished reasoning block.

        `cut_off`: the stream ended at the model's length limit. Text still held back as possible reasoning
        (no tag yet, under the hold limit) is then taken to be reasoning the limit interrupted before its
        closing tag, and dropped: shown, it would present the model's reasoning as the answer.
        """
        unfinished = self._closing is not None or (cut_off and self._holding)
        rest = "" if unfinished else self._pending
        self.dropped_unfinished = unfinished and bool(self._pending)
        self._pending = ""
        self._holding = False
        return rest

    def _find_tag(self) -> tuple[int, str | None]:
        lowered = self._pending.lower()
        tags = OPEN_TAGS if self._block_seen else _TAGS
        found = [(lowered.find(tag), tag) for tag in tags if tag in lowered]
        if not found:
            return -1, None
        return min(found)

    def _possible_tag_prefix_length(self) -> int:
        """Length of the longest suffix of the pending text that begins some tag it still looks for."""
        lowered = self._pending.lower()
        tags = OPEN_TAGS if self._block_seen else _TAGS
        for length in range(min(len(lowered), _LONGEST_TAG - 1), 0, -1):
            suffix = lowered[-length:]
            if any(tag.startswith(suffix) for tag in tags):
                return length
        return 0


def strip_reasoning(text: str) -> str:
    """The visible part of a complete text."""
    reasoning_filter = ReasoningFilter()
    return str(reasoning_filter.feed(text) + reasoning_filter.flush())
