"""Custom ids of the `/privacy forget` confirmation: what they carry, how they are built, read back and checked.

The confirmation's two buttons are persistent, so that a click after the bot restarted is still answered: the id
is all the bot has then. It carries the member who asked, when they asked (unix seconds) and which button it is:
`cb:forget:<member>:<issued>:<yes|no>`. Only that member may answer, and only for `FORGET_LISTENS` seconds.
"""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass

from bot.feedback.custom_ids import MAX_CUSTOM_ID

FORGET_LISTENS = 600  # seconds the confirmation's buttons work (its message can be edited for 15 minutes)
# A time this far ahead of the clock is a clock that was set back since (or an id the bot did not make): the
# request is treated as expired rather than kept open for longer than `FORGET_LISTENS`.
FUTURE_SLACK = 60
FORGET_EXPIRED = "This request expired, so nothing was deleted. Run `/privacy forget` again to delete your data."
FORGET_NOT_YOURS = (
    "These buttons answer another member's `/privacy forget`, so nothing was deleted. "
    "Run `/privacy forget` yourself to delete your own data."
)

FORGET_TEMPLATE = r"cb:forget:(?P<member>[0-9]+):(?P<issued>[0-9]+):(?P<choice>yes|no)"


def clock() -> float:
    """Now, in unix seconds (the time the ids carry)."""
    return time.time()


class ForgetClick(enum.Enum):
    CONFIRM = "confirm"  # the member who asked confirmed in time: delete
    CANCEL = "cancel"  # the member who asked cancelled in time
    NOT_YOURS = "not yours"  # someone else clicked
    EXPIRED = "expired"  # the member who asked clicked too late (either button): nothing is deleted


@dataclass(frozen=True, slots=True)
class ForgetId:
    member_id: int  # who ran /privacy forget
    issued: int  # when, in unix seconds
    confirm: bool  # "Delete everything" (True) or "Cancel"

    def build(self) -> str:
        custom_id = f"cb:forget:{self.member_id}:{self.issued}:{'yes' if self.confirm else 'no'}"
        if len(custom_id) > MAX_CUSTOM_ID or re.fullmatch(FORGET_TEMPLATE, custom_id) is None:
            raise ValueError(f"not a forget confirmation's custom id within Discord's limit: {custom_id!r}")
        return custom_id

    @classmethod
    def from_match(cls, match: re.Match[str]) -> ForgetId:
        return cls(int(match["member"]), int(match["issued"]), match["choice"] == "yes")

    @classmethod
    def parse(cls, custom_id: str) -> ForgetId | None:
        match = re.fullmatch(FORGET_TEMPLATE, custom_id)
        return cls.from_match(match) if match is not None else None

    def clicked_by(self, user_id: int) -> ForgetClick:
        """What a click on this button by `user_id` does now."""
        if user_id != self.member_id:
            return ForgetClick.NOT_YOURS
        age = clock() - self.issued
        if not -FUTURE_SLACK <= age <= FORGET_LISTENS:
            return ForgetClick.EXPIRED
        return ForgetClick.CONFIRM if self.confirm else ForgetClick.CANCEL


def confirmation_ids(member_id: int) -> tuple[ForgetId, ForgetId]:
    """The ids of "Delete everything" and "Cancel" for `member_id`, who asked now."""
    issued = int(clock())
    return ForgetId(member_id, issued, confirm=True), ForgetId(member_id, issued, confirm=False)
