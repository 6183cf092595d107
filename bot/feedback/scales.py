"""Rating scales: which reactions and buttons mean which value, highest value = best fit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.storage import AnswerRecord, GuildSettings


@dataclass(frozen=True, slots=True)
class RatingOption:
    emoji: str
    label: str
    value: int


@dataclass(frozen=True, slots=True)
class RatingScale:
    """A server's scale; options are listed best fit first."""

    name: str
    options: tuple[RatingOption, ...]

    @property
    def size(self) -> int:
        return len(self.options)

    @property
    def emojis(self) -> tuple[str, ...]:
        return tuple(option.emoji for option in self.options)

    def value_of(self, emoji: str) -> int | None:
        """The rating an emoji stands for, or None if it is not one of this scale's."""
        return next((option.value for option in self.options if option.emoji == emoji), None)

    def label_of(self, value: int) -> str:
        return next((option.label for option in self.options if option.value == value), str(value))


FIT3 = RatingScale(
    "fit3",
    (
        RatingOption("✅", "Fits", 3),
        RatingOption("🤔", "Partly fits", 2),
        RatingOption("❌", "Does not fit", 1),
    ),
)
LIKERT5 = RatingScale(
    "likert5",
    (
        RatingOption("5️⃣", "5 · fits very well", 5),
        RatingOption("4️⃣", "4", 4),
        RatingOption("3️⃣", "3", 3),
        RatingOption("2️⃣", "2", 2),
        RatingOption("1️⃣", "1 · does not fit", 1),
    ),
)
SCALES = {scale.name: scale for scale in (FIT3, LIKERT5)}


def scale_named(name: str) -> RatingScale:
    return SCALES.get(name, FIT3)


def answer_scale(answer: AnswerRecord, settings: GuildSettings) -> RatingScale:
    """The scale an answer's reactions are read with: the one its controls were shown with, or the server's
    current one (`settings`) for an answer recorded before that was kept."""
    return scale_named(answer.rating_scale or settings.rating_scale)


def scale_of_size(size: int) -> RatingScale | None:
    """The scale with `size` points (a rating button carries its scale's size)."""
    return next((scale for scale in SCALES.values() if scale.size == size), None)


def scale_labelled(value: int, label: str) -> RatingScale | None:
    """The one scale whose button for `value` has this label: the scale of a rating button made before buttons
    carried it (fit3's 3 is "Fits", likert5's is "3"); None when no scale or several match."""
    found = [scale for scale in SCALES.values() if any(o.value == value and o.label == label for o in scale.options)]
    return found[0] if len(found) == 1 else None
