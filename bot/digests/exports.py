"""The period's pseudonymised rows as CSV and JSONL, for R, pandas and qualitative-analysis tools.

CSV: UTF-8 without a byte-order mark, a header row, RFC 4180 (CRLF line ends; a text column holding a quote,
comma or line break is quoted throughout, inner quotes doubled); numbers bare, booleans true/false, missing
values empty. A text cell that starts with "=", "+", "-", "@", a tab or a carriage return gets a leading "'"
(OWASP's advice against CSV formula injection: spreadsheets run such a cell as a formula even when it is
quoted), so that it shows as the text it is; numbers are never prefixed (-0.5 in a number column stays a
number). JSONL: one UTF-8 JSON object per line with real booleans and nulls, every text exactly as written;
U+2028/U+2029 are escaped so that line-splitting readers see one record per line. Member and role mention
tokens in text are replaced by "@member"/"@role" because they carry Discord ids. Members appear only under a
pseudonym of the server's own (`export_pseudonym`): one member's stored keyed hash becomes another pseudonym in
each server's files, so that files of two servers do not link a member, while the tables of one still join.
Ratings gain a `fit` column: (value - 1) / (scale_size - 1).

The files can be large (100,000 ratings and their answers' texts are over 100 MB), so both writers encode a
column at a time with C-level mapping and join lines in batches, instead of Python code per cell. Each
column is scanned once for both files (mention tokens, which encoding its texts need), numbers are spelled
once for both, and constant text (keys, separators, the quotes around plain texts) is merged into as few
pieces per line as possible.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from operator import attrgetter, itemgetter, methodcaller
from pathlib import Path
from typing import Any

import numpy as np

from bot.digests.codebook import write_codebook
from bot.digests.pseudonyms import export_pseudonym
from bot.digests.rows import AnswerRow, CommentRow, DigestRows, RatingRow, ReasonRow
from bot.digests.text import strip_mention_ids

TEXT_FIELDS = frozenset({"question", "answer", "text"})
# Columns whose values repeat across many rows (members and askers are interned by storage; a server has a
# few channels, scope versions, languages, cue settings and comparison arms).
FEW_VALUES = frozenset(
    {
        "rater_hash",
        "asker_hash",
        "tag",
        "source",
        "outcome",
        "value",
        "scale_size",
        "fit",
        "channel_id",
        "scope_version",
        "language",
        "setting",
        "arm",
        "model",
    }
)
# Columns holding a member's stored pseudonym: written as the server's own (`export_pseudonym`).
PSEUDONYM_FIELDS = frozenset({"rater_hash", "asker_hash"})
_BATCH = 5000  # JSONL lines joined per write
_SCAN = 1 << 20  # characters checked at a time for JSON escapes
_encode_string: Callable[[str], str] = json.encoder.encode_basestring  # C-accelerated, no ASCII escaping
_encode_ascii: Callable[[str], str] = json.encoder.encode_basestring_ascii  # faster; only used on ASCII text
_BOOLEAN = {True: "true", False: "false"}
_QUOTED = '"{}"'.format
_DOUBLE_QUOTES = methodcaller("replace", '"', '""')  # returns the text itself when it holds no quote


class _Pseudonyms:
    """`export_pseudonym` for one server, each distinct stored pseudonym hashed once across the tables."""

    def __init__(self, guild_id: int) -> None:
        self._guild_id = guild_id
        self._known: dict[str, str] = {}

    def __call__(self, values: list[str]) -> list[str]:
        known = self._known
        for stored in set(values).difference(known):
            known[stored] = export_pseudonym(self._guild_id, stored)
        return list(map(known.__getitem__, values))


def _encode_text(value: str) -> str:
    # The ASCII encoder is twice as fast and gives the same result on ASCII text; long texts repay the check.
    return _encode_ascii(value) if value.isascii() else _encode_string(value)


def _json_number(value: float | None) -> str:
    return "null" if value is None else repr(value)


def _plain_ascii(text: str) -> bool:
    """Whether JSON would write `text` as it is, between quotes: ASCII without quotes, backslashes or control
    characters (json escapes 0-31 and 127)."""
    # Single characters are found with memchr; the rest is one vectorised minimum per piece, with no
    # temporary arrays.
    if not text.isascii() or '"' in text or "\\" in text or "\x7f" in text:
        return False
    for start in range(0, len(text), _SCAN):  # a piece at a time: a big server's answers are tens of MB
        if np.frombuffer(text[start : start + _SCAN].encode("ascii"), dtype=np.uint8).min() < 32:
            return False
    return True


def _null_or(encode: Callable[[str], str]) -> Callable[[str | None], str]:
    def encoded(value: str | None) -> str:
        return "null" if value is None else encode(value)

    return encoded


_CSV_SPECIAL = ('"', ",", "\r", "\n")
# First characters that make a spreadsheet read a cell as a formula (tab and CR: it strips them, then reads
# one): such text cells get a leading "'" in the CSV. So does a text starting with "'" itself, which a spreadsheet
# would otherwise hide, and which could not be told from a prefix put there: removing one leading "'" before any of
# these restores every text exactly (the codebook says so).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
_FIRST = itemgetter(0)


def _formula_start(values: Iterable[Any]) -> bool:
    """Whether any text starts like a formula: the first characters, joined, searched with memchr (about
    25 ns a value; a startswith call per value takes four times as long)."""
    firsts = "".join(map(_FIRST, filter(None, values)))  # filter(None): no nulls, no empty texts
    return any(start in firsts for start in FORMULA_STARTS)


@dataclasses.dataclass(frozen=True, slots=True)
class _Text:
    """What a text column's values hold, from one scan of them all (shared by the CSV and JSONL writers)."""

    ascii: bool
    plain: bool  # JSON writes every value as it is, between quotes
    long: bool  # over 64 characters a value on average
    csv_special: bool  # a quote, comma or line break somewhere: CSV quotes the column throughout
    quote: bool
    formula: bool  # a value starts like a formula (FORMULA_STARTS): CSV prefixes those with "'"


@dataclasses.dataclass(frozen=True, slots=True)
class _Column:
    name: str
    annotation: str
    values: list[Any]
    nullable: bool  # holds a None
    distinct: Collection[Any] | None  # a column of few values (or booleans): its values, each encoded once
    text: _Text | None  # for text columns
    numbers: list[str] | None  # other numbers without a null, as both files spell them (repr)


def _text(values: list[Any], joined: str, formula: bool) -> _Text:
    return _Text(
        ascii=joined.isascii(),
        plain=_plain_ascii(joined),
        long=len(joined) > 64 * len(values),
        # substring searches (memchr): far faster than a regex
        csv_special=any(special in joined for special in _CSV_SPECIAL),
        quote='"' in joined,
        formula=formula,
    )


def _columns(rows: Sequence[Any], row_type: type[Any], pseudonyms: Callable[[list[str]], list[str]]) -> list[_Column]:
    named: list[tuple[str, str, list[Any]]] = []
    for field in dataclasses.fields(row_type):
        values = list(map(attrgetter(field.name), rows))
        named.append((field.name, str(field.type), pseudonyms(values) if field.name in PSEUDONYM_FIELDS else values))
    if row_type is RatingRow:
        by_name = {name: values for name, _, values in named}
        value = np.array(by_name["value"], np.float64)
        size = np.array(by_name["scale_size"], np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = np.where(size > 1, (value - 1) / (size - 1), np.nan)
        fits: list[float | None] = fit.tolist()
        if np.isnan(fit).any():  # only with a scale of one value, which storage never writes
            fits = [None if number != number else number for number in fits]
        named.append(("fit", "float | None", fits))
    columns = []
    for name, annotation, values in named:
        text = None
        joined = ""
        if annotation.startswith("str"):
            # One join of the column serves the mention check and both writers' choice of encoding.
            joined = "".join(filter(None, values) if annotation.endswith("| None") else values)
            # Mention tokens are rare: one scan of the joined column spares a call per value. "<" first:
            # searching one character (memchr) is some 30 times faster than searching two.
            if name in TEXT_FIELDS and "<" in joined and "<@" in joined:
                values = list(map(strip_mention_ids, values))
                joined = "".join(values)
        distinct = (False, True) if annotation == "bool" else set(values) if name in FEW_VALUES else None
        if annotation.startswith("str"):
            # Every text column, not only members' texts; a column of few values is checked once per value.
            text = _text(values, joined, _formula_start(values if distinct is None else distinct))
            del joined
        # (`in` on a set answers at once; on a list it compares every value with None)
        nullable = annotation.endswith("| None") and None in (values if distinct is None else distinct)
        # Spelled once for both files (only a null is written differently).
        numbers = list(map(repr, values)) if distinct is None and text is None and not nullable else None
        columns.append(_Column(name, annotation, values, nullable, distinct, text, numbers))
    return columns


class _Line:
    """How each line of a file is spelled: constant pieces and the columns' encoded values, in order.

    A line is the join of the i-th piece of each part. Constants between two columns are merged, and put
    into the encodings of a neighbouring column of few values (whose distinct values are encoded once
    anyway) when there is one, so that each line joins fewer pieces.
    """

    def __init__(self) -> None:
        self.parts: list[Iterable[str]] = []
        self._constant = ""  # not yet placed
        self._encodings: dict[Any, str] | None = None  # the last part's, when it maps few values

    def text(self, constant: str) -> None:
        self._constant += constant

    def _place(self, before_few: bool) -> None:
        """Places the pending constant: after the last column's encodings, else before the next's, else alone."""
        constant, self._constant = self._constant, ""
        if not constant:
            return
        if self._encodings is not None:  # updated in place: the part maps through this dict
            self._encodings.update({value: encoded + constant for value, encoded in self._encodings.items()})
        elif before_few:
            self._constant = constant
        else:
            self.parts.append(itertools.repeat(constant))

    def column(self, column: _Column, encode: Callable[[Any], str] | None, quote: str = "") -> None:
        """The column's values through `encode` (as they are if None), between `quote`s."""
        if column.distinct is not None:
            self._place(before_few=True)
            prefix, self._constant = self._constant, ""
            encodings = {
                value: prefix + quote + (value if encode is None else encode(value)) + quote
                for value in column.distinct
            }
            self.parts.append(map(encodings.__getitem__, column.values))
            self._encodings = encodings
            return
        values = column.values
        if column.numbers is not None:
            encode, values = None, column.numbers
        self.text(quote)
        self._place(before_few=False)
        self.parts.append(values if encode is None else map(encode, values))
        self._encodings = None
        self.text(quote)

    def end(self, constant: str) -> list[Iterable[str]]:
        self.text(constant)
        self._place(before_few=False)
        return self.parts


def _json_text(text: _Text) -> Callable[[str], str] | None:
    """The encoder for a text column's values; None when JSON writes them as they are, between quotes."""
    if text.plain:
        return None
    if text.ascii:
        return _encode_ascii
    return _encode_text if text.long else _encode_string


def _json_parts(columns: Sequence[_Column]) -> list[Iterable[str]]:
    line = _Line()
    for index, column in enumerate(columns):
        line.text(("{" if index == 0 else ",") + json.dumps(column.name) + ":")
        if column.annotation == "bool":
            line.column(column, _BOOLEAN.__getitem__)
        elif column.text is not None:
            encode = _json_text(column.text)
            if column.nullable:
                line.column(column, _null_or(encode or _QUOTED))
            elif encode is None:
                line.column(column, None, '"')  # the quotes join the constants: no copy of each text
            else:
                line.column(column, encode)
        else:  # int and float: repr is JSON for finite numbers
            line.column(column, _json_number if column.nullable else repr)
    return line.end("}\n")


def _empty_if_none(value: str | None) -> str:
    return "" if value is None else value


def _csv_string(value: str | None) -> str:
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def _defused(value: str) -> str:
    """The text as a spreadsheet shows it rather than runs it: "'" before a formula's first character."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _defused_quoted(value: str) -> str:
    return _defused(value).replace('"', '""')  # the column's quotes join the constants


def _defused_or_empty(value: str | None) -> str:
    return "" if value is None else _defused(value)


def _defused_csv_string(value: str | None) -> str:
    return "" if value is None else '"' + _defused(value).replace('"', '""') + '"'


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(value)


def _csv_parts(columns: Sequence[_Column]) -> list[Iterable[str]]:
    """Each line's pieces. A text column is quoted as a whole (every field, inner quotes doubled: RFC 4180
    allows quoting any field) when any of its values holds a quote, comma or line break, and written bare
    otherwise. Texts starting like a formula get a leading "'" (only in columns that hold one: the others keep
    their fast paths)."""
    line = _Line()
    for index, column in enumerate(columns):
        if index:
            line.text(",")
        text = column.text
        if column.annotation == "bool":
            line.column(column, _BOOLEAN.__getitem__)
        elif text is None:
            line.column(column, _csv_number if column.nullable else repr)
        elif text.formula:  # "'" is no CSV special character: the quoting rule stays the column's
            if column.nullable:
                line.column(column, _defused_csv_string if text.csv_special else _defused_or_empty)
            elif text.csv_special:
                line.column(column, _defused_quoted if text.quote else _defused, '"')
            else:
                line.column(column, _defused)
        elif column.nullable:  # a missing value is an empty field, never quoted
            line.column(column, _csv_string if text.csv_special else _empty_if_none)
        elif text.csv_special:  # the quotes join the constants
            line.column(column, _DOUBLE_QUOTES if text.quote else None, '"')
        else:
            line.column(column, None)
    return line.end("\r\n")


def _batches(parts: Sequence[Iterable[str]]) -> Iterator[str]:
    """The lines spelled by the parts (line i is the i-th piece of each part, in order), _BATCH lines at a time."""
    # Joining each line first is faster than joining a batch's pieces at once (join first lists its input).
    lines = map("".join, zip(*parts, strict=False))  # ends with the shortest iterable: the columns
    while batch := "".join(itertools.islice(lines, _BATCH)):
        yield batch


def _write_csv(path: Path, columns: Sequence[_Column]) -> None:
    header = ",".join(column.name for column in columns) + "\r\n"  # plain identifiers: no quoting needed
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(header)
        for batch in _batches(_csv_parts(columns)):
            handle.write(batch)


def _write_jsonl(path: Path, columns: Sequence[_Column]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for batch in _batches(_json_parts(columns)):
            # Raw U+2028/U+2029 are valid JSON but split lines for some readers; outside strings they
            # cannot occur, so escaping them in the whole batch only touches string contents.
            if "\u2028" in batch or "\u2029" in batch:
                batch = batch.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
            handle.write(batch)


def write_exports(rows: DigestRows, directory: Path) -> list[Path]:
    """answers, ratings, reasons and comments as .csv and .jsonl in `directory` (created if missing), and the
    codebook that describes their columns. Members' pseudonyms are the server's own (`export_pseudonym`)."""
    directory.mkdir(parents=True, exist_ok=True)
    pseudonyms = _Pseudonyms(rows.guild_id)
    tables: list[tuple[str, Sequence[Any], type[Any]]] = [
        ("answers", rows.answers, AnswerRow),
        ("ratings", rows.ratings, RatingRow),
        ("reasons", rows.reasons, ReasonRow),
        ("comments", rows.comments, CommentRow),
    ]
    written: list[Path] = []
    for name, table, row_type in tables:
        columns = _columns(table, row_type, pseudonyms)
        csv_path = directory / f"{name}.csv"
        jsonl_path = directory / f"{name}.jsonl"
        _write_csv(csv_path, columns)
        _write_jsonl(jsonl_path, columns)
        written += [csv_path, jsonl_path]
    return written + write_codebook(directory)
