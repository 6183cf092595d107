"""The period's pseudonymised rows as CSV and JSONL, for R, pandas and qualitative-analysis tools.

CSV: UTF-8 without a byte-order mark, a header row, RFC 4180 (CRLF line ends; a text column holding a quote,
comma or line break is quoted throughout, inner quotes doubled); numbers bare, booleans true/false, missing
values empty. JSONL: one
UTF-8 JSON object per line with real booleans and nulls; U+2028/U+2029 are escaped so that line-splitting
readers see one record per line. Member and role mention tokens in text are replaced by "@member"/"@role"
because they carry Discord ids; members otherwise appear only as their keyed hashes. Ratings gain a `fit`
column: (value - 1) / (scale_size - 1).

The files can be large (100,000 ratings and their answers' texts are over 100 MB), so both writers encode a
column at a time with C-level mapping and join lines in batches, instead of Python code per cell.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter, methodcaller
from pathlib import Path
from typing import Any

import numpy as np

from bot.digests.rows import AnswerRow, CommentRow, DigestRows, RatingRow, ReasonRow
from bot.digests.text import strip_mention_ids

TEXT_FIELDS = frozenset({"question", "answer", "text"})
# Columns whose values repeat across many rows (members and askers are interned by storage).
FEW_VALUES = frozenset({"rater_hash", "asker_hash", "tag", "source", "outcome", "value", "scale_size", "fit"})
_BATCH = 5000  # JSONL lines joined per write
_SCAN = 1 << 20  # characters checked at a time for JSON escapes
_encode_string: Callable[[str], str] = json.encoder.encode_basestring  # C-accelerated, no ASCII escaping
_encode_ascii: Callable[[str], str] = json.encoder.encode_basestring_ascii  # faster; only used on ASCII text
_BOOLEAN = {True: "true", False: "false"}


def _encode_text(value: str) -> str:
    # The ASCII encoder is twice as fast and gives the same result on ASCII text; long texts repay the check.
    return _encode_ascii(value) if value.isascii() else _encode_string(value)


def _json_number(value: float | None) -> str:
    return "null" if value is None else repr(value)


def _plain_ascii(text: str) -> bool:
    """Whether JSON would write `text` as it is, between quotes: ASCII without quotes, backslashes or control
    characters (json escapes 0-31 and 127)."""
    if not text.isascii() or '"' in text or "\\" in text:
        return False
    for start in range(0, len(text), _SCAN):  # a piece at a time: a big server's answers are tens of MB
        codes = np.frombuffer(text[start : start + _SCAN].encode("ascii"), dtype=np.uint8)
        if np.count_nonzero((codes - np.uint8(32)) > 94):  # below 32 wraps round to 224 and above
            return False
    return True


def _each(encode: Callable[[Any], str], column: _Column) -> Iterator[str]:
    """`encode` mapped over the column's values; each distinct value of a column of few values (member hashes,
    tags, sources, rating values) is encoded once."""
    if column.name not in FEW_VALUES:
        return map(encode, column.values)
    encoded = {value: encode(value) for value in set(column.values)}
    return map(encoded.__getitem__, column.values)


def _json_values(column: _Column) -> Iterator[str]:
    """One column's values as JSON, mapped in C unless the column holds a null or long mixed texts."""
    annotation, values = column.annotation, column.values
    nullable = annotation.endswith("| None") and None in values
    if annotation == "bool":
        return map(_BOOLEAN.__getitem__, values)
    if annotation.startswith("str"):
        joined = "".join(filter(None, values))
        if _plain_ascii(joined):
            encode: Callable[[str], str] = _QUOTED  # what json writes, without scanning each text again
        elif joined.isascii():
            encode = _encode_ascii
        elif len(joined) > 64 * len(values):
            encode = _encode_text
        else:
            encode = _encode_string
        if nullable:
            encode = _null_or(encode)
        return _each(encode, column)
    return _each(_json_number if nullable else repr, column)  # int and float: repr is JSON for finite numbers


def _null_or(encode: Callable[[str], str]) -> Callable[[str | None], str]:
    def encoded(value: str | None) -> str:
        return "null" if value is None else encode(value)

    return encoded


@dataclasses.dataclass(frozen=True, slots=True)
class _Column:
    name: str
    annotation: str
    values: list[Any]


def _columns(rows: Sequence[Any], row_type: type[Any]) -> list[_Column]:
    columns = []
    for field in dataclasses.fields(row_type):
        values = list(map(attrgetter(field.name), rows))
        # Mention tokens are rare: one scan of the joined column spares a call per value.
        if field.name in TEXT_FIELDS and "<@" in "".join(values):
            values = list(map(strip_mention_ids, values))
        columns.append(_Column(field.name, str(field.type), values))
    if row_type is RatingRow:
        value = np.fromiter(map(attrgetter("value"), rows), np.float64, count=len(rows))
        size = np.fromiter(map(attrgetter("scale_size"), rows), np.float64, count=len(rows))
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = np.where(size > 1, (value - 1) / (size - 1), np.nan)
        fits: list[float | None] = fit.tolist()
        if np.isnan(fit).any():  # only with a scale of one value, which storage never writes
            fits = [None if number != number else number for number in fits]
        columns.append(_Column("fit", "float | None", fits))
    return columns


_DOUBLE_QUOTES = methodcaller("replace", '"', '""')
_QUOTED = '"{}"'.format


def _empty_if_none(value: str | None) -> str:
    return "" if value is None else value


def _csv_string(value: str | None) -> str:
    return "" if value is None else _QUOTED(_DOUBLE_QUOTES(value))


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(value)


_CSV_SPECIAL = ('"', ",", "\r", "\n")


def _csv_values(column: _Column) -> Iterable[str]:
    """One column's values as CSV fields, mapped in C where possible.

    A text column is quoted as a whole (every field, inner quotes doubled: RFC 4180 allows quoting any field)
    when any of its values holds a quote, comma or line break, and written bare otherwise.
    """
    annotation, values = column.annotation, column.values
    nullable = annotation.endswith("| None") and None in values
    if annotation == "bool":
        return map(_BOOLEAN.__getitem__, values)
    if annotation.startswith("str"):
        joined = "".join(filter(None, values))
        if not any(special in joined for special in _CSV_SPECIAL):  # substring search: far faster than a regex
            return map(_empty_if_none, values) if nullable else values
        return map(_csv_string, values) if nullable else map(_QUOTED, map(_DOUBLE_QUOTES, values))
    return _each(_csv_number if nullable else repr, column)


def _write_csv(path: Path, columns: Sequence[_Column]) -> None:
    header = ",".join(column.name for column in columns) + "\r\n"  # plain identifiers: no quoting needed
    parts: list[Iterable[str]] = []
    for index, column in enumerate(columns):
        if index:
            parts.append(itertools.repeat(","))
        parts.append(_csv_values(column))
    parts.append(itertools.repeat("\r\n"))
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(header)
        for batch in _batches(parts):
            handle.write(batch)


def _batches(parts: Sequence[Iterable[str]]) -> Iterator[str]:
    """The lines spelled by the parts (line i is the i-th piece of each part, in order), _BATCH lines at a time."""
    # Joining each line first is faster than joining a batch's pieces at once (join first lists its input).
    lines = map("".join, zip(*parts, strict=False))  # ends with the shortest iterable: the columns
    while batch := "".join(itertools.islice(lines, _BATCH)):
        yield batch


def _json_parts(columns: Sequence[_Column]) -> list[Iterable[str]]:
    parts: list[Iterable[str]] = []
    for index, column in enumerate(columns):
        key = ("{" if index == 0 else ",") + json.dumps(column.name) + ":"
        parts.append(itertools.repeat(key))
        parts.append(_json_values(column))
    parts.append(itertools.repeat("}\n"))
    return parts


def _write_jsonl(path: Path, columns: Sequence[_Column]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for batch in _batches(_json_parts(columns)):
            # Raw U+2028/U+2029 are valid JSON but split lines for some readers; outside strings they
            # cannot occur, so escaping them in the whole batch only touches string contents.
            if "\u2028" in batch or "\u2029" in batch:
                batch = batch.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            handle.write(batch)


def write_exports(rows: DigestRows, directory: Path) -> list[Path]:
    """answers, ratings, reasons and comments as .csv and .jsonl in `directory` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    tables: list[tuple[str, Sequence[Any], type[Any]]] = [
        ("answers", rows.answers, AnswerRow),
        ("ratings", rows.ratings, RatingRow),
        ("reasons", rows.reasons, ReasonRow),
        ("comments", rows.comments, CommentRow),
    ]
    written: list[Path] = []
    for name, table, row_type in tables:
        columns = _columns(table, row_type)
        csv_path = directory / f"{name}.csv"
        jsonl_path = directory / f"{name}.jsonl"
        _write_csv(csv_path, columns)
        _write_jsonl(jsonl_path, columns)
        written += [csv_path, jsonl_path]
    return written
