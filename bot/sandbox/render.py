"""Text rendering for the sandbox's terminal: the bot's messages as a member would see them in Discord.

`Console` is where every line goes (and what `expect` in scripts checks); `MessageView` prints one
Discord message as it grows: complete wrapped lines as soon as they can no longer change, then,
once the message is finished, its embeds, files and controls, with the terminal command that uses
each control.
"""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.discord import Message, MessageFlag

CURSOR = " ▌"  # the mark the bot puts at the end of a message it is still writing (bot/answers/streaming.py)
INDENT = "  "
BOT_NAME = "culturebot"

JSON = dict[str, Any]


def terminal_width() -> int:
    return max(40, min(shutil.get_terminal_size((100, 24)).columns, 110))


def normalized(text: str) -> str:
    """Whitespace runs as single spaces: wrapped output and `expect` texts compare equal."""
    return " ".join(text.split())


_MARKUP = re.compile(r"<(@!?|@&|#)(\d+)>|<t:(-?\d+)(?::[tTdDfFR])?>")


class Console:
    """Prints lines and remembers what the current step printed (for `expect`).

    `names` maps mention markup (`<@id>`, `<#id>`, `<@&id>`) to what Discord shows (`@ayu`, `#ask`).
    """

    def __init__(self, write: Callable[[str], None] | None = None, width: int | None = None) -> None:
        self._write = write or _print_line
        self.width = width or terminal_width()
        self._step: list[str] = []
        self.names: dict[str, str] = {}

    def display(self, text: str) -> str:
        """Mentions and timestamps as Discord renders them."""

        def shown(match: re.Match[str]) -> str:
            if match.group(3) is not None:
                return datetime.fromtimestamp(int(match.group(3)), UTC).strftime("%Y-%m-%d %H:%M UTC")
            kind = "@" if match.group(1).startswith("@") and match.group(1) != "@&" else match.group(1)
            return self.names.get(f"{kind}{match.group(2)}", match.group(0))

        return _MARKUP.sub(shown, text)

    def say(self, text: str = "") -> None:
        for line in text.split("\n"):
            self._step.append(line)
            self._write(line)

    def echo(self, text: str) -> None:
        """Print without keeping it for `expect` (a script's own lines)."""
        self._write(text)

    def remember(self, text: str) -> None:
        """Keep text for `expect` without printing it (e.g. a message's whole unwrapped content)."""
        self._step.append(text)

    def new_step(self) -> None:
        self._step = []

    def step_contains(self, needle: str) -> bool:
        return normalized(needle) in normalized("\n".join(self._step))

    def wrap(self, text: str, indent: str = INDENT) -> list[str]:
        """`text` wrapped to the terminal, paragraph by paragraph, each line indented."""
        lines: list[str] = []
        for paragraph in text.split("\n"):
            lines.extend(_wrap_paragraph(paragraph, self.width, indent))
        return lines


def _print_line(line: str) -> None:
    print(line, flush=True)  # noqa: T201 - the terminal front end's output
    sys.stdout.flush()


def _wrap_paragraph(paragraph: str, width: int, indent: str) -> list[str]:
    if not paragraph.strip():
        return [indent.rstrip()]
    return textwrap.wrap(
        paragraph,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
        replace_whitespace=False,
        drop_whitespace=True,
    ) or [indent.rstrip()]


def header(message: Message, *, updated: bool = False) -> str:
    marks = []
    if message.ephemeral:
        marks.append("only you see this")
    if updated:
        marks.append("updated")
    return f"{BOT_NAME}" + (f" ({', '.join(marks)})" if marks else "") + ":"


def visible_text(message: Message) -> str:
    """The message's content without the still-writing cursor."""
    return message.content.removesuffix(CURSOR)


def is_writing(message: Message) -> bool:
    return message.content.endswith(CURSOR) or bool(message.flags & MessageFlag.LOADING)


class MessageView:
    """Prints one message as it grows, then its extras once it is finished."""

    def __init__(self, console: Console, message: Message, *, updated: bool = False) -> None:
        self.console = console
        self.message = message
        self._updated = updated
        self._started = False
        self._thinking_said = False
        self._printed = ""  # content consumed so far
        self._pending = ""  # the paragraph being written, not yet printed in full
        self.finished = False
        self.renders = 0

    @property
    def stale(self) -> bool:
        """Changed since it was printed (an edit after the message was complete)."""
        return self._text() != self._printed

    def _text(self) -> str:
        return self.console.display(visible_text(self.message))

    def refresh(self) -> None:
        """Print what is new since the last call."""
        message = self.message
        if message.flags & MessageFlag.LOADING and not message.content:
            if not self._thinking_said:
                self._start()
                self.console.say(f"{INDENT}… {BOT_NAME} is thinking")
                self._thinking_said = True
            return
        text = self._text()
        if not text.startswith(self._printed):
            # Rewritten rather than extended: show it again from the start.
            self._flush_pending()
            self.console.say(f"{INDENT}(edited)")
            self._printed = ""
        new = text[len(self._printed) :]
        if new:
            self._start()
            self.renders += 1
            self._printed = text
            self._feed(new)
        if not is_writing(message):
            self._flush_pending()  # a finished text is printed whole, not held back for a longer last line

    def finish(self) -> None:
        """Print the rest of the text, then embeds, attachments and controls."""
        if self.finished:
            return
        self.refresh()
        self._flush_pending()
        if not self._started and (self.message.embeds or self.message.attachments or self.message.components):
            self._start()
        self.console.remember(self.console.display(self.message.content))
        for embed in self.message.embeds:
            self.console.remember(" ".join(str(embed.get(key) or "") for key in ("title", "description")))
            for field in embed.get("fields") or []:
                self.console.remember(f"{field.get('name', '')} {field.get('value', '')}")
        for line in extras(self.message, self.console):
            self.console.say(line)
        self.finished = True

    def _start(self) -> None:
        if not self._started:
            self.console.say(header(self.message, updated=self._updated))
            self._started = True

    def _feed(self, new: str) -> None:
        self._pending += new
        *complete, self._pending = self._pending.split("\n")
        for paragraph in complete:
            for line in _wrap_paragraph(paragraph, self.console.width, INDENT):
                self.console.say(line)
        lines = _wrap_paragraph(self._pending, self.console.width, INDENT)
        if len(lines) > 1 and self._pending.strip():
            # Every line but the last is final: a longer last word cannot move back up.
            for line in lines[:-1]:
                self.console.say(line)
            self._pending = _unwrapped_tail(self._pending, lines[-1].strip())

    def _flush_pending(self) -> None:
        if self._pending.strip():
            for line in _wrap_paragraph(self._pending, self.console.width, INDENT):
                self.console.say(line)
        self._pending = ""


def _unwrapped_tail(paragraph: str, last_line: str) -> str:
    """The part of `paragraph` that its last wrapped line shows (with the original spacing)."""
    position = paragraph.rfind(last_line)
    return paragraph[position:] if position >= 0 else last_line


# ----------------------------------------------------------------------------- extras


def extras(message: Message, console: Console) -> Iterator[str]:
    for embed in message.embeds:
        yield from embed_lines(embed, console)
    for attachment in message.attachments:
        yield f"{INDENT}📎 {attachment.filename} ({_size(attachment.size)})"
    yield from component_lines(message.components, console)


def embed_lines(embed: JSON, console: Console) -> Iterator[str]:
    bar = INDENT + "┃ "
    if embed.get("title"):
        yield f"{bar}{embed['title']}"
    if embed.get("description"):
        yield from console.wrap(console.display(str(embed["description"])), bar)
    for field in embed.get("fields") or []:
        yield f"{bar}{field.get('name', '')}"
        yield from console.wrap(console.display(str(field.get("value", ""))), bar + "  ")
    image = (embed.get("image") or {}).get("url")
    if image:
        yield f"{bar}[image: {str(image).removeprefix('attachment://')}]"
    footer = (embed.get("footer") or {}).get("text")
    if footer:
        yield f"{bar}— {footer}"


def buttons_and_selects(components: Sequence[JSON]) -> Iterator[JSON]:
    for row in components:
        if row.get("type") == 1:
            yield from row.get("components") or []
        else:
            yield row


def button_label(button: JSON) -> str:
    emoji = button.get("emoji") or {}
    name = emoji.get("name") if isinstance(emoji, dict) else None
    return " ".join(part for part in (name, button.get("label")) if part)


def component_lines(components: Sequence[JSON], console: Console) -> Iterator[str]:
    items = list(buttons_and_selects(components))
    buttons = [item for item in items if item.get("type") == 2]
    if buttons:
        shown = [f"({button_label(b)})" if b.get("disabled") else f"[{button_label(b)}]" for b in buttons]
        yield INDENT + " ".join(shown)
    for select in (item for item in items if item.get("type") in (3, 5, 6, 7, 8)):
        options = " | ".join(str(option.get("label")) for option in select.get("options") or [])
        yield from console.wrap(f"▾ {select.get('placeholder') or 'choose'}: {options}", INDENT)
    hint = command_hint(items)
    if hint:
        yield f"{INDENT}→ {hint}"


def custom_ids(message: Message) -> list[str]:
    return [str(item["custom_id"]) for item in buttons_and_selects(message.components) if "custom_id" in item]


RATE_WORDS = "fits|partly|no"


def command_hint(items: Sequence[JSON]) -> str:
    """Which terminal command uses these controls."""
    ids = [str(item.get("custom_id", "")) for item in items]
    hints = []
    rates = [custom_id for custom_id in ids if custom_id.startswith("cb:rate:")]
    if rates:
        scale = RATE_WORDS if len(rates) == 3 else f"1-{len(rates)}"
        hints.append(f"/rate {scale} [reason, reason]")
    if any(custom_id.startswith("cb:consent:") for custom_id in ids):
        hints.append("/consent ratings|comments|quotes|no")
    if any(custom_id.startswith("cb:reasons:") for custom_id in ids):
        hints.append("/reasons <reason>, <reason>")
    if any(custom_id.startswith("cb:comment:") for custom_id in ids):
        hints.append("/comment <text>")
    # Buttons without a command of their own are clicked by label: the bot's persistent controls (cb:...) have
    # commands, except the /privacy forget confirmation's.
    others = [
        item
        for item in items
        if item.get("type") == 2 and not item.get("disabled") and _clicked_by_label(str(item.get("custom_id", "")))
    ]
    if others:
        hints.append("/click " + "|".join(str(item.get("label")) for item in others))
    return "   ".join(hints)


def _clicked_by_label(custom_id: str) -> bool:
    return not custom_id.startswith("cb:") or custom_id.startswith("cb:forget:")


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
