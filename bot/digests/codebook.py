"""The data files' codebook: what each column of answers, ratings, reasons and comments means.

Written beside the exports (and so into data.zip) as codebook.md for people and codebook.csv for R, pandas or a
qualitative-analysis tool's import. The columns are those of the row classes in bot/digests/rows.py plus the
ratings' derived `fit`; a test keeps the two in step.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from pathlib import Path

from bot.feedback.scales import FIT3, LIKERT5, RatingScale

MARKDOWN_NAME = "codebook.md"
CSV_NAME = "codebook.csv"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # integer, number, text, boolean, time
    description: str


def _labels(scale: RatingScale) -> str:
    return ", ".join(f"{option.value} = {option.label}" for option in sorted(scale.options, key=lambda o: o.value))


_ANSWER_ID = Column("answer_id", "integer", "The answer, as numbered by the bot; joins the four tables.")
_RATER = Column(
    "rater_hash",
    "text",
    "The member who gave it, under a pseudonym of this server's data files: 32 hex characters, derived one way "
    "(SHA-256) from the server's id and the keyed hash of the member's Discord id the bot stores. The same member "
    "has the same pseudonym in every file of this server (asker_hash too) for as long as the bot's key is "
    "unchanged, so the tables join; in another server's files they have another, so the files of two servers do "
    "not link them by it. A pseudonym is not anonymity: the files pair a member's questions and comments with "
    "their times and channels, which can identify them (see the codebook's introduction).",
)

CODEBOOK: dict[str, tuple[Column, ...]] = {
    "answers": (
        _ANSWER_ID,
        Column(
            "channel_id",
            "integer",
            "The Discord channel the question was asked in (for a thread: the channel the thread belongs to; "
            "answers in threads recorded before culturebot's migration 0009 carry the thread's own id).",
        ),
        Column("created_at", "time", "When the question was asked."),
        Column(
            "asker_hash",
            "text",
            "The member who asked, under this server's pseudonym as rater_hash is (the same member has the same "
            "value in both); forgotten- and the answer_id (forgotten-42) once they asked to be forgotten (the "
            "answer stays, linked to nobody).",
        ),
        Column(
            "question",
            "text",
            "The member's question, every one, including those asked privately (see private) and those of members "
            "who did not allow quoting: the digest's reports show it only where question_quotable is true. Empty "
            "once the retention period deleted the texts, or the member asked to be forgotten. Mentions of members "
            "and roles read @member and @role.",
        ),
        Column("answer", "text", "The bot's answer, as shown; empty once the retention period deleted the texts."),
        Column(
            "outcome",
            "text",
            "How the answer ended: ok; incomplete (cut off: the length limit, the model stopped early, or a "
            "shutdown; what was said is kept); failed (no answer: the model failed or wrote nothing to show, "
            "Discord failed, or the bot could not prepare the question, e.g. an unreadable scope); refused (not "
            "answered, and recorded with why: the member's cooldown, the daily token budget, a channel not "
            "enabled, a question already waiting behind theirs, or a restart). Questions refused because the "
            "server has no declared scope are not recorded.",
        ),
        Column(
            "scope_version",
            "integer",
            "The number of the server's declared scope version the answer was written under (1, 2, ...); empty "
            "when it was answered with no declared scope, and for questions refused or failed before the model "
            "was asked.",
        ),
        Column(
            "language",
            "text",
            "The language the bot detected in the question and the member's earlier messages in the "
            "conversation (a tag such as id, en, vi); empty when it was unsure, and for questions refused or "
            "failed before the model was asked.",
        ),
        Column(
            "setting",
            "text",
            "The setting the member named (such as workplace or funeral) in the question or earlier in the "
            "conversation, as the bot's cue reader matched it; empty when none was named, for questions refused "
            "or failed before the model was asked, and once the asker asked to be forgotten.",
        ),
        Column("tokens_in", "integer", "Tokens the model read (the prompt); or empty. See tokens_estimated."),
        Column("tokens_out", "integer", "Tokens the model wrote; or empty. See tokens_estimated."),
        Column(
            "tokens_estimated",
            "boolean",
            "true when the model server reported no token counts (some local servers do not) and the bot "
            "estimated tokens_in and tokens_out from the texts' lengths; false when the server reported them.",
        ),
        Column(
            "ttft_ms",
            "integer",
            "Milliseconds from the request to the first text shown to the member (after any reasoning the bot "
            "held back, so later than the model's first token for reasoning models); or empty.",
        ),
        Column("total_ms", "integer", "Milliseconds from the request to the answer's end; or empty."),
        Column(
            "arm",
            "text",
            "For an answer in a randomized comparison of scope versions: the comparison's number and the arm, as "
            "3:current or 3:alternative (members are assigned at random, by their pseudonym); otherwise empty.",
        ),
        Column(
            "model",
            "text",
            "The model the bot asked for this answer, as named to the model server (CULTUREBOT_MODEL_NAME, or the "
            "embedded model's name); recorded for refused and failed questions too.",
        ),
        Column(
            "private",
            "boolean",
            "true when the member asked with /ask private:True: the answer was shown only to them (rated with "
            "buttons, as no one else could see it). The digest's reports show neither the question nor the answer "
            "of a private one.",
        ),
        Column(
            "parent_answer_id",
            "integer",
            "The answer this question continued (the member replied to it or wrote in its thread): conversations "
            "are chains of these. Empty for a new conversation, and when the earlier answer was deleted. It may "
            "be an answer of an earlier period, not in this file.",
        ),
        Column(
            "question_quotable",
            "boolean",
            "true when the question may be quoted: it was not asked privately and its asker allowed anonymous "
            "quoting (their consent as it stood when these files were made). Only these questions appear in the "
            "digest's reports; quote only questions where this is true.",
        ),
    ),
    "ratings": (
        _ANSWER_ID,
        _RATER,
        Column(
            "value",
            "integer",
            f"The rating, 1..scale_size, higher is a better fit. 3-point scale: {_labels(FIT3)}. 5-point scale: "
            f"{_labels(LIKERT5)}.",
        ),
        Column("scale_size", "integer", "The scale the member rated on: 3 or 5 (a server can change its scale)."),
        Column(
            "is_asker",
            "boolean",
            "The member rated the answer to their own question: they judge whether it helped them as well as "
            "whether it fits.",
        ),
        Column("source", "text", "How it was given: reaction (an emoji under the answer) or button."),
        Column(
            "created_at",
            "time",
            "When the rating was stored: for a reaction given before the member agreed to take part, when they "
            "agreed; a rating taken back and given again counts from the new one.",
        ),
        Column("updated_at", "time", "When the rating last changed (equal to created_at if never)."),
        Column(
            "fit",
            "number",
            "The rating on one 0-1 scale for both scale sizes: (value - 1) / (scale_size - 1). The digest's "
            "mean fit is its mean; its fit share is the share of ratings at the top value.",
        ),
    ),
    "reasons": (
        _ANSWER_ID,
        _RATER,
        Column(
            "tag",
            "text",
            "A reason the member picked for their rating (the server's list of reasons, as labelled). A rating "
            "has none, one or several; they go when the member changes the rating's value.",
        ),
    ),
    "comments": (
        Column("comment_id", "integer", "The comment, as numbered by the bot."),
        _ANSWER_ID,
        _RATER,
        Column(
            "text",
            "text",
            "What the member wrote about the answer. Empty once the retention period deleted the text. Mentions "
            "of members and roles read @member and @role.",
        ),
        Column(
            "quotable",
            "boolean",
            "The member allowed anonymous quoting of their comments; quote only comments where this is true.",
        ),
        Column("created_at", "time", "When the comment was written."),
    ),
}

_TYPES = {
    "integer": "a whole number; empty in CSV, null in JSONL when missing",
    "number": "a decimal number",
    "text": "UTF-8 text; empty in CSV, null in JSONL when missing",
    "boolean": "true or false",
    "time": "ISO 8601 in UTC, milliseconds (2026-11-23T09:00:00.000Z)",
}

_INTRO = """# Codebook

The period's research data, one row per answer, rating, reason tag and comment, each as CSV (UTF-8, RFC 4180,
a header row) and as JSONL (one JSON object per line). Only members who agreed to take part have ratings,
reasons and comments here; answers are there whoever asked, with every question, private ones too. A CSV text
cell that starts with =, +, -, @, a tab or a carriage return has a ' put before it, so that spreadsheets show it
as text rather than run it (and so does one that starts with ', so that one ' can always be removed); the JSONL
files hold every text exactly.

These files are personal data, pseudonymised, not anonymous. Members appear under pseudonyms (rater_hash,
asker_hash) instead of names or Discord ids, but answers.csv pairs each question's exact text with its channel
and time to the millisecond: anyone who can read the server can find the message, and so the member, and then
every rating, reason and comment of theirs in these files. Share the files only with the research team, and keep
them as you keep the server's other research data. Before publishing any part of them, remove the questions,
answers and comments (or quote only those whose question_quotable or quotable is true, without their
pseudonyms), the pseudonyms, channel_id, and the exact times (keep the day at most). The pseudonyms are this
server's own: the same member has other pseudonyms in other servers' files (a one-way hash of the server's id
and the bot's stored pseudonym), so the files of two communities do not link a member by them.

Join the tables on answer_id; a rating's reasons on answer_id and rater_hash; a conversation's answers through
parent_answer_id. digest.json holds the digest's numbers (see the report, and its "How to read this", for what
they mean); its culturebot_version says which culturebot made these files, and its format_version which layout
digest.json has (raised whenever a field is removed or changes meaning). Who took part: current.denominators
(previous.denominators for the period before) gives consent_at_end, the members whose latest consent decision
before the period's end was ratings, comments (ratings and comments), quotes (also anonymous quotes) or declined,
of the decisions still held (a member who asked to be forgotten is in none), and raters_by_consent, the period's
raters by that level (no_decision: their first decision came after the period's end).

These files hold this period's rows only. The report's changes and "Previous period" columns compare with the
period before, and its version comparison pools both: for the earlier period's rows, run the report's Provenance
command with that period's start and end (--from the earlier start, --to this period's start, --feedback-until
this period's end, as this digest read it).

Reading the files: channel_id is a Discord id of up to 19 digits, more than a double holds exactly. pandas reads it
exactly (int64); in R read it as text (read.csv(..., colClasses = c(channel_id = "character")), or readr's
col_types = cols(channel_id = col_character())). JavaScript and jq round JSON numbers that large: there, take
channel_id from the CSV files, as text. The CSV files are UTF-8 without a byte-order mark: in Excel open them
through Data > From Text/CSV with the file origin UTF-8, or non-Latin text shows garbled. To analyse texts from the
CSV files, first remove the ' put before a leading =, +, -, @, tab, carriage return or ' (in pandas:
.str.replace(r"^'(?=[=+\\-@\\t\\r'])", "", regex=True)), or read the JSONL files, which need no such step.

Types: """


@functools.cache  # the same for every digest: made once per process
def render_markdown() -> str:
    types = "; ".join(f"**{name}**: {meaning}" for name, meaning in _TYPES.items())
    parts = [_INTRO + types + "."]
    for table, columns in CODEBOOK.items():
        parts.append(f"## {table}.csv / {table}.jsonl\n")
        parts.append("| Column | Type | Meaning |\n|---|---|---|")
        parts.extend(f"| `{c.name}` | {c.type} | {c.description} |" for c in columns)
        parts.append("")
    return "\n\n".join(parts[:1]) + "\n\n" + "\n".join(parts[1:])


@functools.cache
def render_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["file", "column", "type", "description"])
    for table, columns in CODEBOOK.items():
        writer.writerows([table, c.name, c.type, c.description] for c in columns)
    return out.getvalue()


def write_codebook(directory: Path) -> list[Path]:
    """codebook.md and codebook.csv in `directory`."""
    markdown, table = directory / MARKDOWN_NAME, directory / CSV_NAME
    markdown.write_text(render_markdown(), encoding="utf-8")
    table.write_text(render_csv(), encoding="utf-8", newline="")
    return [markdown, table]
