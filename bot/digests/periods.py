"""One period's rows as arrays: valid ratings, per-answer totals, and lookups by answer and by member.

Fit on 0..1 is (value - 1) / (scale_size - 1); "top" is a rating at the scale's top value. A member rating
one answer twice counts once (the latest `updated_at`); a rating outside 1..scale_size is left out and
counted. Storage already guarantees both, so the check runs in numpy and the Python fallback rarely does.
Lookups are vectorised (sorted keys and searchsorted) because they run over every rating of large servers.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from bot.digests.bootstrap import Clusters, FloatArray, IntArray
from bot.digests.rows import AnswerRow, DigestRows, RatingRow

_ANSWER_ID = attrgetter("answer_id")
_RATER = attrgetter("rater_hash")
_VALUE = attrgetter("value")
_SCALE = attrgetter("scale_size")


def _positions(sorted_ids: IntArray, wanted: IntArray) -> IntArray:
    """Index of each wanted id in `sorted_ids`, -1 where it is absent."""
    if sorted_ids.size == 0 or wanted.size == 0:
        return np.full(wanted.size, -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_ids, wanted), sorted_ids.size - 1)
    result: IntArray = np.where(sorted_ids[at] == wanted, at, -1).astype(np.int64)
    return result


@dataclass(frozen=True, slots=True)
class RatedPeriod:
    """A period's valid ratings as parallel arrays, and totals per rated answer (in `answer_ids` order)."""

    rows: DigestRows
    ratings: tuple[RatingRow, ...]  # valid, one per member and answer
    invalid_ratings: int
    rating_answer: IntArray  # per rating: answer id
    rating_index: IntArray  # per rating: position in answer_ids
    fit: FloatArray
    top: FloatArray
    value: IntArray
    scale: IntArray
    rater: IntArray  # per rating: the member's code
    rater_codes: dict[str, int]
    answer_ids: IntArray  # rated answers, ascending
    count: FloatArray
    fit_sum: FloatArray
    top_sum: FloatArray
    pair_keys: IntArray  # (answer position, member code) keys of the ratings, sorted
    pair_order: IntArray  # the rating behind each sorted key

    @property
    def rater_count(self) -> int:
        return len(self.rater_codes)

    @property
    def mean(self) -> FloatArray:
        result: FloatArray = self.fit_sum / self.count
        return result

    def clusters(self) -> Clusters:
        return Clusters(self.count, np.vstack([self.fit_sum, self.top_sum]))

    def ratings_of(self, answer_ids: Sequence[int], rater_hashes: Sequence[str]) -> IntArray:
        """Position in `ratings` of each (answer, member) pair's rating, -1 where the member did not rate."""
        n = len(answer_ids)
        if n == 0 or not self.ratings:
            return np.full(n, -1, dtype=np.int64)
        position = _positions(self.answer_ids, np.fromiter(answer_ids, np.int64, count=n))
        code = np.fromiter(map(self.rater_codes.get, rater_hashes, itertools.repeat(-1)), np.int64, count=n)
        known = (position >= 0) & (code >= 0)
        key = np.where(known, position * max(self.rater_count, 1) + code, -1)
        found = _positions(self.pair_keys, key)
        result: IntArray = np.where(known & (found >= 0), self.pair_order[np.maximum(found, 0)], -1)
        return result

    def labels(self, positions: Sequence[int]) -> list[str | None]:
        """Ratings at these positions as "value/scale" (None for -1); one string per distinct label."""
        at = np.asarray(positions, dtype=np.int64).reshape(-1)
        if at.size == 0:
            return []
        found = at >= 0
        codes = self.value[at[found]] * 1000 + self.scale[at[found]]
        distinct, which = np.unique(codes, return_inverse=True)
        names = np.array([f"{code // 1000}/{code % 1000}" for code in distinct.tolist()] + [None], dtype=object)
        index = np.full(at.size, distinct.size, dtype=np.int64)
        index[found] = which.reshape(-1)
        result: list[str | None] = names[index].tolist()
        return result


def _valid_latest(ratings: Sequence[RatingRow]) -> tuple[tuple[RatingRow, ...], int]:
    """Ratings with a value on their scale, the latest per (answer, member); and how many were invalid."""
    latest: dict[tuple[int, str], RatingRow] = {}
    invalid = 0
    for rating in ratings:
        if rating.scale_size < 2 or not 1 <= rating.value <= rating.scale_size:
            invalid += 1
            continue
        key = (rating.answer_id, rating.rater_hash)
        seen = latest.get(key)
        if seen is None or rating.updated_at > seen.updated_at:
            latest[key] = rating
    return tuple(latest.values()), invalid


def _columns(ratings: Sequence[RatingRow]) -> tuple[IntArray, IntArray, IntArray, IntArray, dict[str, int]]:
    n = len(ratings)
    codes: defaultdict[str, int] = defaultdict(itertools.count().__next__)  # a new member gets the next code
    return (
        np.fromiter(map(_VALUE, ratings), np.int64, count=n),
        np.fromiter(map(_SCALE, ratings), np.int64, count=n),
        np.fromiter(map(_ANSWER_ID, ratings), np.int64, count=n),
        np.fromiter(map(codes.__getitem__, map(_RATER, ratings)), np.int64, count=n),
        dict(codes),
    )


def _one_per_pair(answer: IntArray, rater: IntArray) -> bool:
    if answer.size < 2:
        return True
    order = np.lexsort((rater, answer))
    same = (answer[order][1:] == answer[order][:-1]) & (rater[order][1:] == rater[order][:-1])
    return not bool(same.any())


def prepare(rows: DigestRows) -> RatedPeriod:
    """The period's valid ratings as arrays, with per-answer totals."""
    ratings: tuple[RatingRow, ...] = tuple(rows.ratings)
    value, scale, answer, rater, codes = _columns(ratings)
    invalid = 0
    if not bool(np.all((scale >= 2) & (value >= 1) & (value <= scale))) or not _one_per_pair(answer, rater):
        ratings, invalid = _valid_latest(ratings)
        value, scale, answer, rater, codes = _columns(ratings)
    fit = (value - 1) / (scale - 1)
    top = (value == scale).astype(np.float64)
    answer_ids, rating_index = np.unique(answer, return_inverse=True)
    rating_index = rating_index.astype(np.int64).reshape(-1)
    size = answer_ids.size
    keys = rating_index * max(len(codes), 1) + rater
    order = np.argsort(keys, kind="stable")
    return RatedPeriod(
        rows=rows,
        ratings=ratings,
        invalid_ratings=invalid,
        rating_answer=answer,
        rating_index=rating_index,
        fit=fit,
        top=top,
        value=value,
        scale=scale,
        rater=rater,
        rater_codes=codes,
        answer_ids=answer_ids.astype(np.int64),
        count=np.bincount(rating_index, minlength=size).astype(np.float64),
        fit_sum=np.bincount(rating_index, weights=fit, minlength=size).astype(np.float64),
        top_sum=np.bincount(rating_index, weights=top, minlength=size).astype(np.float64),
        pair_keys=keys[order],
        pair_order=order.astype(np.int64),
    )


@dataclass(frozen=True, slots=True)
class KeyColumn:
    """A property of every answer in a table as codes into `keys`; `unknown` is the code for missing answers."""

    keys: tuple[str, ...]
    codes: IntArray

    @property
    def unknown(self) -> int:
        return len(self.keys) - 1


@dataclass(frozen=True, slots=True)
class AnswerTable:
    """Every answer in the given rows (a later list wins for the same id), looked up by id in bulk."""

    by_id: dict[int, AnswerRow]
    ids: IntArray  # ascending
    rows: tuple[AnswerRow, ...]  # in `ids` order

    @classmethod
    def of(cls, *answer_lists: Sequence[AnswerRow]) -> AnswerTable:
        by_id: dict[int, AnswerRow] = {}
        for answers in answer_lists:
            by_id.update(zip(map(_ANSWER_ID, answers), answers, strict=True))
        ids = sorted(by_id)
        return cls(by_id, np.array(ids, dtype=np.int64), tuple(map(by_id.__getitem__, ids)))

    def positions(self, answer_ids: IntArray | Sequence[int]) -> IntArray:
        """Row of each answer id in the table, -1 for an answer it does not hold."""
        return _positions(self.ids, np.asarray(answer_ids, dtype=np.int64).reshape(-1))

    def key_column(
        self, field: str, key: Callable[[Any], str], unknown: str, *, cut: Callable[[Any], Any] | None = None
    ) -> KeyColumn:
        """Codes of key(answer.<field>) over the table's answers; the key `unknown` (last) stands for answers
        missing from the table. `key` runs once per distinct value, not once per answer; `cut`, a C-level
        callable such as an itemgetter, first reduces the values (timestamps to days)."""
        index: defaultdict[Any, int] = defaultdict(itertools.count().__next__)
        values = map(attrgetter(field), self.rows)
        if cut is not None:
            values = map(cut, values)
        raw = np.fromiter(map(index.__getitem__, values), np.int64, count=len(self.rows))
        distinct: dict[str, int] = {}
        merge = np.fromiter((distinct.setdefault(key(value), len(distinct)) for value in index), np.int64)
        codes: IntArray = merge[raw] if raw.size else raw
        return KeyColumn((*distinct, unknown), codes)

    def codes(self, column: KeyColumn, positions: IntArray) -> IntArray:
        """The column's code at each table row (`positions`), the unknown code where the row is -1."""
        if column.codes.size == 0:
            return np.full(positions.size, column.unknown, dtype=np.int64)
        result: IntArray = np.where(positions >= 0, column.codes[np.maximum(positions, 0)], column.unknown)
        return result
