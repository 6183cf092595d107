"""Server-sent events as OpenAI-compatible endpoints stream them, decoded from the response's bytes.

The model client parses chat-completion chunks itself instead of through the openai SDK's typed chunk
models: building one pydantic object per token costs about 140 µs against a few µs here, and a busy bot
streams thousands of tokens a second. The decoder takes the bytes as the network delivers them and returns
every event they complete at once, so a busy bot that finds several tokens waiting handles them in one step
instead of one trip through a stack of async iterators per line.

Only what the SSE specification needs for these streams is implemented: `data:` lines (joined with newlines
when an event has several), `event:`, comments, the blank line that ends an event, and any of CRLF, LF or CR
as line ends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: str
    event: str | None = None


class SseDecoder:
    """Feed the stream's bytes in any pieces; get the events each piece completes."""

    def __init__(self) -> None:
        self._buffer = b""  # an unfinished line
        self._data: list[str] = []
        self._event: str | None = None
        self._after_cr = False  # the last piece ended with CR, which may be half of a CRLF

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events completed by `chunk`; an event still open at the end waits for more bytes."""
        if self._after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the second half of a CRLF cut between pieces: that line has ended already
        buffer = self._buffer + chunk
        self._after_cr = buffer[-1:] == b"\r"
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        events: list[ServerSentEvent] = []
        for raw in lines:
            # A line is whole here, and UTF-8 never puts a newline byte inside a character: decoding is safe.
            line = raw.decode("utf-8", errors="replace")
            if not line:
                if self._data:
                    events.append(ServerSentEvent("\n".join(self._data), self._event))
                self._data, self._event = [], None
                continue
            if line[0] == ":":
                continue  # a comment, e.g. a keep-alive
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
            # `id` and `retry` only matter for reconnecting, which a chat completion never does.
        return events
