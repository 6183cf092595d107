"""Keep a model's reasoning out of the channel.

Reasoning models either send it in a separate field (`reasoning_content`, `reasoning`), which the
client simply ignores, or inline between `<think>` and `</think>` tags. `ReasoningFilter` removes
the inline form from a stream whose chunks may split a tag anywhere.
"""

from __future__ import annotations

OPEN_TAGS = ("<think>", "<thinking>", "<reasoning>")


class ReasoningFilter:
    """Feed stream chunks in, get only the visible text out."""

    def __init__(self) -> None:
        self._pending = ""  # text that might be the start of a tag, held until it can be decided
        self._closing: str | None = None  # the close tag awaited while inside a reasoning block

    def feed(self, chunk: str) -> str:
        """Return the visible text this chunk completes (possibly empty)."""
        if not self._pending and self._closing is None and "<" not in chunk:
            return chunk  # the common case, one call per token: nothing here can start a tag
        self._pending += chunk
        visible: list[str] = []
        while self._pending:
            if self._closing is not None:
                end = self._pending.lower().find(self._closing)
                if end == -1:
                    # Keep only a tail that could be the start of the close tag.
                    self._pending = self._pending[-(len(self._closing) - 1) :]
                    break
                self._pending = self._pending[end + len(self._closing) :].lstrip("\n")
                self._closing = None
                continue
            start, tag = self._find_open_tag()
            if tag is not None:
                visible.append(self._pending[:start])
                self._pending = self._pending[start + len(tag) :]
                self._closing = "</" + tag[1:]
                continue
            keep = self._possible_tag_prefix_length()
            visible.append(self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep :]
            break
        return "".join(visible)

    def flush(self) -> str:
        """At the end of the stream: release held text unless it is an unfinished reasoning block."""
        rest = "" if self._closing is not None else self._pending
        self._pending = ""
        return rest

    def _find_open_tag(self) -> tuple[int, str | None]:
        lowered = self._pending.lower()
        found = [(lowered.find(tag), tag) for tag in OPEN_TAGS if tag in lowered]
        if not found:
            return -1, None
        return min(found)

    def _possible_tag_prefix_length(self) -> int:
        """Length of the longest suffix of the pending text that begins some open tag."""
        lowered = self._pending.lower()
        for length in range(min(len(lowered), max(map(len, OPEN_TAGS)) - 1), 0, -1):
            suffix = lowered[-length:]
            if any(tag.startswith(suffix) for tag in OPEN_TAGS):
                return length
        return 0


def strip_reasoning(text: str) -> str:
    """The visible part of a complete text."""
    reasoning_filter = ReasoningFilter()
    return reasoning_filter.feed(text) + reasoning_filter.flush()
