"""Custom ids of the consent controls: what they carry, how they are built and read back.

Consent buttons are persistent, so a click can arrive long after the notice was shown, and the id is
all the bot has. So it carries:

- the consent notice version the member was shown (`cb:consent:<level>:<answer>:<pending>:<version>`), so
  agreement is recorded only for the text the member read; an id from before versions were carried
  (`cb:consent:<level>:<answer>:<pending>`) reads back with `version=None` and is never taken as agreement;
- on the channel note after a reaction, the member the note was for (`cb:ask:<answer>:<value>:<member>`);
  an older id without the member (`cb:ask:<answer>:<value>`) reads back with `member_id=None`.

`pending` is what to do once the member agrees: `r<value>` store a rating they gave with a button,
`e<value>` store a rating they gave with a reaction, `c` open the comment form, `-` nothing. A rating may carry
the size of the scale it was given on (`r3/3`), so that it is stored on that scale even if the server's scale
changes before the member agrees; without it, the server's scale at that time.
Discord allows at most 100 characters in a custom id; the builders refuse anything longer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.storage import ConsentLevel, RatingSource

MAX_CUSTOM_ID = 100  # Discord's limit

NO_PENDING = "-"
COMMENT_PENDING = "c"
_RATING_PREFIX = {RatingSource.BUTTON: "r", RatingSource.REACTION: "e"}
_RATING_SOURCE = {prefix: source for source, prefix in _RATING_PREFIX.items()}

_PENDING = r"[re][0-9](?:/[0-9])?|c|-"
_VERSION = r"[0-9]+\.[0-9]+"
CONSENT_TEMPLATE = (
    rf"cb:consent:(?P<level>[a-z]+):(?P<answer>[0-9]+):(?P<pending>{_PENDING})(?::(?P<version>{_VERSION}))?"
)
ASK_TEMPLATE = r"cb:ask:(?P<answer>[0-9]+):(?P<value>[0-9])(?::(?P<member>[0-9]+))?"


def rating_pending(value: int, source: RatingSource, scale_size: int | None = None) -> str:
    """The pending action that stores a rating of `value` given through `source` (on a scale of `scale_size`)."""
    for number in (value, scale_size or 0):
        if not 0 <= number <= 9:
            raise ValueError(f"a rating value or scale size is one digit, not {number}")
    return f"{_RATING_PREFIX[source]}{value}" + (f"/{scale_size}" if scale_size else "")


def pending_rating(pending: str) -> tuple[int, RatingSource, int | None] | None:
    """The (value, source, scale size or None) of a pending rating, or None when `pending` is not one."""
    match = re.fullmatch(r"([re])([0-9])(?:/([0-9]))?", pending)
    if match is None:
        return None
    return int(match[2]), _RATING_SOURCE[match[1]], int(match[3]) if match[3] else None


def _checked(custom_id: str, template: str) -> str:
    if len(custom_id) > MAX_CUSTOM_ID:
        raise ValueError(f"custom id of {len(custom_id)} characters is over Discord's {MAX_CUSTOM_ID}: {custom_id}")
    if re.fullmatch(template, custom_id) is None:
        raise ValueError(f"custom id {custom_id!r} does not match {template}")
    return custom_id


@dataclass(frozen=True, slots=True)
class ConsentId:
    level: ConsentLevel
    answer_id: int  # 0 when the notice was opened with /privacy consent
    pending: str
    version: str | None  # the notice version shown; None for an id from before versions were carried

    def build(self) -> str:
        if self.version is None:
            raise ValueError("a consent button must carry the notice version it was shown with")
        return _checked(
            f"cb:consent:{self.level.value}:{self.answer_id}:{self.pending}:{self.version}", CONSENT_TEMPLATE
        )

    def custom_id(self) -> str:
        """The id as it is on the button: a new one, or the old form for a button read back from an old id."""
        if self.version is None:
            return f"cb:consent:{self.level.value}:{self.answer_id}:{self.pending}"
        return self.build()

    @classmethod
    def from_match(cls, match: re.Match[str]) -> ConsentId:
        """Read a match of CONSENT_TEMPLATE; ValueError for a level that does not exist."""
        return cls(ConsentLevel(match["level"]), int(match["answer"]), match["pending"], match["version"])

    @classmethod
    def parse(cls, custom_id: str) -> ConsentId | None:
        match = re.fullmatch(CONSENT_TEMPLATE, custom_id)
        if match is None:
            return None
        try:
            return cls.from_match(match)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class AskId:
    answer_id: int
    value: int
    member_id: int | None  # who reacted; None for an id from before it was carried

    def build(self) -> str:
        if self.member_id is None:
            raise ValueError("the consent note's button must carry the member it is for")
        return _checked(f"cb:ask:{self.answer_id}:{self.value}:{self.member_id}", ASK_TEMPLATE)

    def custom_id(self) -> str:
        """The id as it is on the button: a new one, or the old form for a button read back from an old id."""
        if self.member_id is None:
            return f"cb:ask:{self.answer_id}:{self.value}"
        return self.build()

    @classmethod
    def from_match(cls, match: re.Match[str]) -> AskId:
        member = match["member"]
        return cls(int(match["answer"]), int(match["value"]), int(member) if member is not None else None)

    @classmethod
    def parse(cls, custom_id: str) -> AskId | None:
        match = re.fullmatch(ASK_TEMPLATE, custom_id)
        return cls.from_match(match) if match is not None else None
