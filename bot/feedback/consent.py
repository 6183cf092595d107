"""Consent: what members are told, which version of the text they answered, and when to ask.

The notice's version has two parts: the bot's own text (CONSENT_TEXT_VERSION, bumped in code whenever
NOTICE below changes) and the server's revision (bumped by /research settings whenever a change alters the
notice the server's members read: the note, the retention period, the research contact; see notice_changed).
A member who agreed under an older version is asked again; a member who said no is not asked again unless
they open /privacy themselves. The privacy link comes from the bot's configuration, not the server's
settings, so changing it does not change the version: bump CONSENT_TEXT_VERSION when it changes materially.
"""

from __future__ import annotations

from enum import StrEnum

from bot.answers.splitting import grapheme_cut
from bot.storage import Consent, ConsentLevel, GuildSettings

# 2: quotes cover questions as well as comments (QUOTES_COVER_QUESTIONS_FROM); members who agreed to 1 are asked again.
# 3: says that questions are recorded with their answers whatever a member chooses (they always were).
CONSENT_TEXT_VERSION = 3

# The notice's first line says what brought the member to it; the rest, the same wherever it is shown, is what they
# agree to (and what its version covers: `notice_changed` compares it under the rating heading).
RATING_HEADING = "**How well did this answer fit your community? Your rating is research data.**"
GENERAL_HEADING = "**Taking part in the research: what you give is research data.**"  # /privacy consent
NOTICE = """\
{heading}
culturebot is a research instrument: members' ratings and comments help researchers study whether language \
models reflect a specific community instead of a stereotype. Before your ratings or comments are kept, please \
choose.

**What is kept:** your rating of each answer, any reasons and comments you add, and the time; your questions, \
with my answers, whatever you choose. You are stored under a pseudonym (a keyed hash), never your Discord name \
or id. Raw text is deleted after {retention} days; counts are kept.
**Who runs it:** {contact}.
**Quotes:** only if you choose it, short anonymous quotes of your comments, and your questions asked in public, \
may appear in research digests.
**Your rights:** `/privacy` shows what is kept, exports it, changes your choice or deletes everything, any time. \
The data is used only for this research: never to train models, never sold or shared.{note}{privacy}"""

CHOICE_LABELS = {
    ConsentLevel.RATINGS: "Ratings only",
    ConsentLevel.COMMENTS: "Ratings and comments",
    ConsentLevel.QUOTES: "Also anonymous quotes",
    ConsentLevel.DECLINED: "No, thanks",
}


class ConsentState(StrEnum):
    GRANTED = "granted"  # agreed to the current notice
    DECLINED = "declined"  # said no: do not store, do not ask again
    ASK = "ask"  # never decided, or agreed to an older notice


def consent_version(settings: GuildSettings) -> str:
    return f"{CONSENT_TEXT_VERSION}.{settings.consent_revision}"


def consent_state(consent: Consent | None, settings: GuildSettings) -> ConsentState:
    if consent is None:
        return ConsentState.ASK
    if consent.level is ConsentLevel.DECLINED:
        return ConsentState.DECLINED
    if consent.consent_version != consent_version(settings):
        return ConsentState.ASK
    return ConsentState.GRANTED


# The notice goes out in one Discord message (2,000 characters) with, at most, a preface of this length before
# or after it ("the notice changed…", "that note was meant for another member…").
MAX_PREFACE = 400
NOTICE_ROOM = 2000 - MAX_PREFACE


def notice_text(settings: GuildSettings, privacy_url: str | None, *, heading: str = RATING_HEADING) -> str:
    """The consent notice under these settings, under `heading` (RATING_HEADING where a rating or comment brought
    the member to it, GENERAL_HEADING where they opened it themselves; never longer than the rating one). It fits
    in `NOTICE_ROOM`: `/research settings` refuses a note or contact that would make it longer (`notice_overflow`);
    settings stored before that check have their note shortened here, so that the notice can still be sent and
    members can still choose."""
    text = _notice(settings, privacy_url, settings.consent_note, heading)
    excess = len(text) - NOTICE_ROOM
    if excess > 0 and settings.consent_note:
        note = settings.consent_note
        keep = grapheme_cut(note, max(len(note) - excess - 1, 0))  # not inside a letter with its marks, nor an emoji
        text = _notice(settings, privacy_url, note[:keep] + "…", heading)
    return text


def notice_overflow(settings: GuildSettings, privacy_url: str | None) -> int:
    """How many characters the notice under these settings is over `NOTICE_ROOM` (0 when it fits)."""
    return max(len(_notice(settings, privacy_url, settings.consent_note, RATING_HEADING)) - NOTICE_ROOM, 0)


def _notice(settings: GuildSettings, privacy_url: str | None, consent_note: str | None, heading: str) -> str:
    contact = settings.research_contact or "this server's moderators (no research contact has been named yet)"
    note = f"\n**A note from this server:** {consent_note}" if consent_note else ""
    privacy = f"\n**Privacy notice:** {privacy_url}" if privacy_url else ""
    return NOTICE.format(
        heading=heading, retention=settings.retention_days, contact=contact, note=note, privacy=privacy
    )


def notice_changed(before: GuildSettings, after: GuildSettings) -> bool:
    """Whether members would read a different notice under `after` than under `before` (so a new version).

    Compares the rendered texts, so any setting the notice shows counts, including ones added to it later.
    The privacy link is the bot's, the same on both sides, so it is left out."""
    return notice_text(before, None) != notice_text(after, None)


class AskCooldown:
    """When to ask a member about consent again after they reacted without having chosen: not more often than
    every `interval` seconds per (server, member), and `retry_after` seconds after a note Discord refused (a
    channel the bot cannot post in would otherwise cost a failing request at each of their reactions). Entries
    past their time are dropped as the table grows, so a bot running for months keeps only the members asked
    recently."""

    def __init__(self, interval: float, retry_after: float = 60.0, prune_at: int = 10_000) -> None:
        self.interval = interval
        self.retry_after = retry_after
        self._prune_at = prune_at
        self._next: dict[tuple[int, int], float] = {}  # (server, member) -> when they may be asked again

    def should_ask(self, key: tuple[int, int], now: float) -> bool:
        """True (and remembered) when `key` may be asked at `now`. Remembered at once, so that reactions handled
        while the note is being sent do not send another; `failed` if it is not delivered."""
        due = self._next.get(key)
        if due is not None and now < due:
            return False
        if len(self._next) >= self._prune_at:
            self._next = {other: when for other, when in self._next.items() if now < when}
        self._next[key] = now + self.interval
        return True

    def failed(self, key: tuple[int, int], asked_at: float) -> None:
        """The ask `should_ask` allowed at `asked_at` never reached the member (Discord refused the note): they may
        be asked again at a reaction `retry_after` seconds later, instead of going unasked for the whole interval.
        A newer ask is left alone."""
        if self._next.get(key) == asked_at + self.interval:
            self._next[key] = asked_at + self.retry_after

    def __len__(self) -> int:
        return len(self._next)


# How long the rating reactions of a member who has not chosen wait for their choice: in memory (PendingReactions),
# and in the channel note's button (a note this old no longer passes its rating on: bot/feedback/views.py).
PENDING_FOR = 24 * 3600.0


class PendingReactions:
    """Rating reactions of members who had not chosen yet, held in memory (never written anywhere) until they do.

    Per (server, member): the answers they reacted to with a rating emoji, each with the values of the rating emojis
    they added there and have not taken back, the latest last. Once the member agrees, the rating their reactions
    on each answer still show, among those, is stored; a refusal drops them. A rating emoji of theirs on the answer
    that is not among them was added at another time (perhaps before they declined or asked to be forgotten) and is
    never stored this way.

    An entry is used for `keep_for` seconds and a member keeps only their `per_member` newest answers.
    Expired entries, and members left with none, are dropped by `prune`: the Feedback cog runs it every hour, and
    `note` runs it too when `prune_every` seconds have passed since the last one (or as the table passes
    `prune_at` members), so nothing stays in memory much past `keep_for` even for a member who never chooses. A
    restart loses them all (the reaction the consent note names travels in its button, and survives, for
    `PENDING_FOR` after the note was posted)."""

    def __init__(
        self, keep_for: float, per_member: int = 50, prune_at: int = 10_000, prune_every: float = 3600.0
    ) -> None:
        self.keep_for = keep_for
        self.per_member = per_member
        self.prune_every = prune_every
        self._prune_at = prune_at
        self._pruned_at: float | None = None  # when `prune` last ran
        # (server, member) -> answer -> (values of their rating emojis on it, the latest last; when the latest was
        # added), the answers oldest first
        self._pending: dict[tuple[int, int], dict[int, tuple[tuple[int, ...], float]]] = {}

    def note(self, key: tuple[int, int], answer_id: int, value: int, now: float) -> None:
        """`key`'s rating emoji of `value` on the answer, added at `now` while they had not chosen."""
        due = self._pruned_at is None or now - self._pruned_at >= self.prune_every
        if due or (key not in self._pending and len(self._pending) >= self._prune_at):
            self.prune(now)
        answers = self._pending.setdefault(key, {})
        earlier, _ = answers.pop(answer_id, ((), now))  # re-inserted as the newest
        answers[answer_id] = ((*(noted for noted in earlier if noted != value), value), now)
        while len(answers) > self.per_member or self._expired(answers, now):
            del answers[next(iter(answers))]  # the oldest: too many, or too old (the member's own, at once)
        if not answers:
            del self._pending[key]

    def prune(self, now: float) -> None:
        """Forget every reaction noted `keep_for` seconds or more before `now`, and the members left with none."""
        self._pruned_at = now
        for key in list(self._pending):
            answers = self._pending[key]
            while answers and self._expired(answers, now):
                del answers[next(iter(answers))]
            if not answers:
                del self._pending[key]

    def taken_back(self, key: tuple[int, int], answer_id: int, value: int) -> None:
        """`key` took back their rating emoji of `value` on the answer: it is not stored when they agree."""
        answers = self._pending.get(key)
        if answers is None or answer_id not in answers:
            return
        values, when = answers[answer_id]
        left = tuple(noted for noted in values if noted != value)
        if left:
            answers[answer_id] = (left, when)
        else:
            self.discard(key, answer_id)

    def _expired(self, answers: dict[int, tuple[tuple[int, ...], float]], now: float) -> bool:
        """Whether the oldest of a member's answers has expired (they are kept in the order they were noted)."""
        return bool(answers) and now - next(iter(answers.values()))[1] >= self.keep_for

    def take(self, key: tuple[int, int], now: float) -> dict[int, tuple[int, ...]]:
        """Answer -> values of the rating emojis `key` added there while they had not chosen, the latest last (the
        answers oldest first), forgotten from here on."""
        answers = self._pending.pop(key, {})
        return {answer_id: values for answer_id, (values, when) in answers.items() if now - when < self.keep_for}

    def values(self, key: tuple[int, int], answer_id: int, now: float) -> tuple[int, ...]:
        """The values of `key`'s rating emojis waiting on the answer, the latest last (they stay: see `take`)."""
        entry = self._pending.get(key, {}).get(answer_id)
        if entry is None or now - entry[1] >= self.keep_for:
            return ()
        return entry[0]

    def discard(self, key: tuple[int, int], answer_id: int) -> None:
        """Forget `key`'s reaction on the answer, if one waits (a newer one of theirs was stored since)."""
        answers = self._pending.get(key)
        if answers is not None:
            answers.pop(answer_id, None)
            if not answers:
                del self._pending[key]

    def drop(self, key: tuple[int, int]) -> None:
        self._pending.pop(key, None)

    def drop_member(self, user_id: int) -> None:
        """Forget the member's reactions in every server (they asked to be forgotten)."""
        self._pending = {key: answers for key, answers in self._pending.items() if key[1] != user_id}

    def __len__(self) -> int:
        return len(self._pending)
