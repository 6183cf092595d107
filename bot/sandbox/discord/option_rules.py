"""What Discord's client refuses to send: slash-command options checked against the command's registered schema.

Discord's client does not send an interaction whose options break the definition the bot registered: a number
outside ``min_value``/``max_value``, text outside ``min_length``/``max_length``, a value that is not one of the
``choices``, a missing required option, text where a number is wanted, or a channel whose type is not in
``channel_types``. The stand-in's ``invoke_command`` sends whatever a test passes (tests check how the bot copes);
a front end that plays a person at Discord's client checks here first. Every problem names the option and how
to fix it, the way the client marks the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .interaction_payloads import (
    ATTACHMENT,
    BOOLEAN,
    CHANNEL,
    INTEGER,
    MENTIONABLE,
    NUMBER,
    ROLE,
    STRING,
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
    USER,
)
from .models import JSON

#: Discord's own bounds where a definition sets none: integers within ±2^53, strings up to 6,000 characters.
INTEGER_LIMIT = 2**53
STRING_LIMIT = 6000

TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")

CHANNEL_TYPE_NAMES = {
    0: "text",
    1: "direct message",
    2: "voice",
    3: "group direct message",
    4: "category",
    5: "announcement",
    10: "announcement thread",
    11: "thread",
    12: "private thread",
    13: "stage",
    14: "directory",
    15: "forum",
    16: "media",
}

_PLACEHOLDERS = {
    STRING: "<text>",
    INTEGER: "<whole number>",
    BOOLEAN: "true|false",
    USER: "@member",
    CHANNEL: "#channel",
    ROLE: "@role",
    MENTIONABLE: "@member-or-role",
    NUMBER: "<number>",
    ATTACHMENT: "<file>",
}


class OptionProblem(ValueError):
    """One option Discord's client would not send, and how to fix it: ``str()`` is ``"name: fix"``."""

    def __init__(self, option: str, fix: str) -> None:
        super().__init__(f"{option}: {fix}")
        self.option = option
        self.fix = fix


def placeholder(definition: JSON) -> str:
    """What to type for an option, for a hint such as ``retention_days=<whole number>``."""
    choices = definition.get("choices") or []
    if choices:
        return "|".join(str(choice["name"]) for choice in choices)
    return _PLACEHOLDERS.get(int(definition["type"]), "<value>")


def convert(definition: JSON, text: str) -> Any:
    """The value Discord's client sends for ``text`` typed into a text, number or true/false option (its
    choice's value where the option has choices), checked against the definition; other kinds come back as typed.

    Raises ``OptionProblem`` for what the client would refuse."""
    name = str(definition["name"])
    kind = int(definition["type"])
    choices = definition.get("choices") or []
    if choices:
        value = _chosen(choices, text)
        if value is None:
            raise OptionProblem(name, f"choose one of {_choice_names(choices)} (you typed {text!r})")
    elif kind == INTEGER:
        if not _WHOLE.fullmatch(text.strip()):
            raise OptionProblem(name, f"must be a whole number (you typed {text!r}){_separators(text)}")
        value = int(text.strip())
    elif kind == NUMBER:
        # Python's float() also takes "1_000", "1e3", "inf" and "nan"; the client's number field does not.
        if not _DECIMAL.fullmatch(text.strip()):
            raise OptionProblem(name, f"must be a number (you typed {text!r}){_separators(text)}")
        value = float(text.strip())
    elif kind == BOOLEAN:
        word = text.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise OptionProblem(name, f"must be true or false (you typed {text!r})")
        value = word in TRUE_WORDS
    else:
        value = text
    check_value(definition, value, typed=text)
    return value


# What the client's number fields take: digits, an optional minus sign and, for numbers, one decimal point.
_WHOLE = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


_GROUPED = re.compile(r"-?[0-9]{1,3}([_, ])[0-9]{3}(?:\1[0-9]{3})*(?:\.[0-9]+)?|-?[0-9]+(?:_[0-9]+)+(?:\.[0-9]+)?")


def _separators(text: str) -> str:
    """The fix for digits grouped in thousands ("1,000", "10 000") or with underscores ("1_000"), which the
    client does not take; nothing for other text ("1,5" may be a decimal comma)."""
    typed = text.strip()
    if _GROUPED.fullmatch(typed):
        return f": type it without separators, {re.sub('[_, ]', '', typed)}"
    return ""


def check_value(
    definition: JSON,
    value: Any,
    *,
    typed: str | None = None,
    channel_type: Callable[[int], int | None] | None = None,
) -> None:
    """Raise ``OptionProblem`` if Discord's client would not send ``value`` for this option.

    ``typed`` is what the person typed, quoted back in the message; ``channel_type`` gives a channel's type
    by id, for options restricted by ``channel_types``."""
    name = str(definition["name"])
    kind = int(definition["type"])
    shown = typed if typed is not None else str(value)
    if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
        raise OptionProblem(name, "is a subcommand: type it right after the command's name, not as an option")
    if kind == STRING:
        if not isinstance(value, str):
            raise OptionProblem(name, f"must be text (got {value!r})")
        _check_length(name, value, definition, required=bool(definition.get("required")))
    elif kind in (INTEGER, NUMBER):
        whole = kind == INTEGER
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
            raise OptionProblem(name, f"must be {'a whole number' if whole else 'a number'} (you typed {shown!r})")
        if not math.isfinite(value):
            raise OptionProblem(name, f"must be a number (you typed {shown!r})")
        _check_range(name, value, definition, shown, whole=whole)
    elif kind == BOOLEAN and not isinstance(value, bool):
        raise OptionProblem(name, f"must be true or false (you typed {shown!r})")
    choices = definition.get("choices") or []
    if choices and not any(choice["value"] == value for choice in choices):
        raise OptionProblem(name, f"choose one of {_choice_names(choices)} (you typed {shown!r})")
    allowed = definition.get("channel_types") or []
    if kind == CHANNEL and allowed and channel_type is not None:
        found = channel_type(int(value))
        if found is not None and found not in allowed:
            wanted = _alternatives([CHANNEL_TYPE_NAMES.get(t, f"type {t}") for t in allowed])
            here = f"#{typed.lstrip('#')}" if typed else "that channel"
            kind_name = CHANNEL_TYPE_NAMES.get(found, f"type {found}")
            raise OptionProblem(name, f"choose a {wanted} channel ({here} is a {kind_name} channel)")


def check_options(
    definitions: Sequence[JSON],
    values: Mapping[str, Any],
    *,
    typed: Mapping[str, str] | None = None,
    channel_type: Callable[[int], int | None] | None = None,
) -> list[OptionProblem]:
    """Every problem Discord's client would show for ``values`` (option name → value as sent) against the
    options of a command or subcommand, in the order of the definitions; empty when it would send them.

    ``typed`` maps names to the text typed, for the messages. An option in ``typed`` but not in ``values``
    counts as given (its text did not convert, a problem already reported), so it is not also missing."""
    typed = typed or {}
    by_name = {str(d["name"]): d for d in definitions}
    problems: list[OptionProblem] = []
    for name in values:
        if name not in by_name:
            problems.append(OptionProblem(name, f"there is no such option; the options are {_option_names(by_name)}"))
    for name, definition in by_name.items():
        if name in values:
            try:
                check_value(definition, values[name], typed=typed.get(name), channel_type=channel_type)
            except OptionProblem as problem:
                problems.append(problem)
        elif definition.get("required") and name not in typed:
            problems.append(OptionProblem(name, f"is required (add {name}={placeholder(definition)})"))
    return problems


def misread_name(text: str, definitions: Sequence[JSON]) -> OptionProblem | None:
    """A hint for free text that looks like a misnamed option (``retention_dayz=0``) or Discord's own
    display form (``retention_days:0``), where the text did not fit the first option it went to."""
    by_name = {str(d["name"]): d for d in definitions}
    match = re.match(r"([a-z][a-z0-9_-]*)([=:])(\S*)", text.strip())
    if match is None:
        return None
    word, sign, value = match.groups()
    if sign == "=" and word not in by_name:
        return OptionProblem(word, f"there is no such option; the options are {_option_names(by_name)}")
    if sign == ":" and word in by_name:
        return OptionProblem(word, f"type options as name=value: {word}={value or placeholder(by_name[word])}")
    return None


def _check_length(name: str, value: str, definition: JSON, *, required: bool) -> None:
    if not value:
        raise OptionProblem(name, "is empty: type a value" + ("" if required else ", or leave the option out"))
    low = definition.get("min_length")
    high = definition.get("max_length")
    high = STRING_LIMIT if high is None else min(int(high), STRING_LIMIT)
    if low is not None and len(value) < int(low):
        raise OptionProblem(name, f"must be at least {_characters(int(low))} (yours has {len(value):,})")
    if len(value) > high:
        raise OptionProblem(name, f"must be at most {_characters(high)} (yours has {len(value):,})")


def _check_range(name: str, value: float, definition: JSON, shown: str, *, whole: bool) -> None:
    low = definition.get("min_value")
    high = definition.get("max_value")
    if low is None and whole:
        low = -INTEGER_LIMIT
    if high is None and whole:
        high = INTEGER_LIMIT
    if low is not None and value < low:
        raise OptionProblem(name, f"must be at least {_number(low)} (you typed {shown})")
    if high is not None and value > high:
        raise OptionProblem(name, f"must be at most {_number(high)} (you typed {shown})")


def _chosen(choices: Sequence[JSON], text: str) -> Any:
    """The value of the choice whose name or value is ``text`` (exactly, else ignoring case), or None."""
    wanted = text.strip()
    for fold in (False, True):
        for choice in choices:
            for shown in (str(choice["name"]), str(choice["value"])):
                if shown == wanted or (fold and shown.casefold() == wanted.casefold()):
                    return choice["value"]
    return None


def _choice_names(choices: Sequence[JSON]) -> str:
    return ", ".join(str(choice["name"]) for choice in choices)


def _option_names(by_name: Mapping[str, JSON]) -> str:
    return ", ".join(by_name) if by_name else "none (this command takes no options)"


def _alternatives(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _characters(count: int) -> str:
    return f"{count:,} character" + ("" if count == 1 else "s")


def _number(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
