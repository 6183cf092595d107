"""Comments on answers: checked, then stored only for members who agreed to comments."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from bot.digests.text import strip_mention_ids
from bot.errors import UserFacingError
from bot.feedback.consent import ConsentState, consent_state, consent_version
from bot.pseudonyms import Pseudonymizer
from bot.storage import AnswerRecord, CommentSource, ConsentChanged, NewComment, Storage
from bot.wording import has_visible_text, without_leading_invisibles

MAX_COMMENT_CHARS = 4000
COMMENT_PROMPT = "How would someone in this community answer differently? What did it miss?"


class CommentResult(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # stored before: the same Discord message (redelivered), or the same form sent again
    NEEDS_CONSENT = "needs_consent"
    NOT_ALLOWED = "not_allowed"  # the member agreed to ratings only
    DECLINED = "declined"


def reply_comment_text(content: str, prefix: str, bot_user_id: int) -> str | None:
    """The comment in a reply such as "fit: too formal" or "@culturebot fit: too formal"; None if not one.

    The prefix matches in any case and in its compatibility forms: "fit：" with the full-width colon Chinese and
    Japanese keyboards type, "ｆｉｔ:", or a prefix typed with decomposed accents; invisible characters before it (a
    right-to-left mark) are passed over."""
    text = without_leading_invisibles(re.sub(rf"^\s*<@!?{bot_user_id}>", "", without_leading_invisibles(content)))
    wanted = _folded(prefix)
    # The prefix's length in the text differs from its own (decomposed accents, ligatures): try each cut up to a
    # few characters past it, not one inside a letter's marks.
    for end in range(1, min(len(text), 2 * len(prefix) + 2) + 1):
        if _folded(text[:end]) == wanted and not unicodedata.category(text[end : end + 1] or " ").startswith("M"):
            return text[end:]
    return None


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def clean_comment(text: str) -> str:
    """The comment to store, or a UserFacingError saying why there is none."""
    cleaned = text.strip()
    if not has_visible_text(cleaned):
        raise UserFacingError("Your comment was empty, so nothing was saved.")
    if len(cleaned) > MAX_COMMENT_CHARS:
        raise UserFacingError(
            f"Your comment is {len(cleaned):,} characters; comments can be at most {MAX_COMMENT_CHARS:,}. "
            "Nothing was saved: shorten it and send it again."
        )
    # Other members named in it keep no Discord id in research data: they agreed to nothing.
    return strip_mention_ids(cleaned)


async def save_comment(
    storage: Storage,
    pseudonyms: Pseudonymizer,
    answer: AnswerRecord,
    *,
    user_id: int,
    text: str,
    source: CommentSource,
    message_id: int | None = None,
) -> CommentResult:
    """Store a comment if the member's consent covers comments; returns after it is committed. Its text is checked
    (`clean_comment`: not empty, not too long) only once it would be kept: a member whose comment is not kept
    is not asked to shorten it first."""
    rater = pseudonyms.member(user_id)
    settings = await storage.guild_settings(answer.guild_id)
    consent = await storage.consent(answer.guild_id, rater)
    state = consent_state(consent, settings)
    if state is ConsentState.DECLINED:
        return CommentResult.DECLINED
    if state is ConsentState.ASK or consent is None:
        return CommentResult.NEEDS_CONSENT
    if not consent.level.allows_comments:
        return CommentResult.NOT_ALLOWED
    cleaned = clean_comment(text)
    try:
        stored = await storage.add_comment(
            NewComment(
                answer_id=answer.answer_id,
                rater_hash=rater,
                text=cleaned,
                source=source,
                quotable=consent.level.allows_quotes,
                message_id=message_id,
            ),
            consent_version=consent_version(settings),
        )
    except ConsentChanged:  # declined or lowered while this comment was handled: the later choice wins
        now = await storage.consent(answer.guild_id, rater)
        state = consent_state(now, settings)
        if state is ConsentState.DECLINED:
            return CommentResult.DECLINED
        if state is ConsentState.GRANTED and now is not None and not now.level.allows_comments:
            return CommentResult.NOT_ALLOWED
        return CommentResult.NEEDS_CONSENT
    return CommentResult.STORED if stored is not None else CommentResult.DUPLICATE


async def follow_reply_edit(
    storage: Storage, pseudonyms: Pseudonymizer, guild_id: int, user_id: int, message_id: int, text: str | None
) -> str | None:
    """A member edited a message whose reply comment may be stored: `text` is its comment now (None when it no
    longer starts with the comment prefix). The stored comment follows: its new text ("updated"), or it goes
    ("removed": no longer a comment); None when no comment changed. New text is kept only while the member's
    consent covers comments (to the current notice, as for a new comment), and within the length limit: else the
    stored text stays as it was."""
    if text is None or not text.strip():
        return "removed" if await storage.delete_comments_of_messages([message_id]) else None
    try:
        cleaned = clean_comment(text)
    except UserFacingError:
        return None
    settings = await storage.guild_settings(guild_id)
    consent = await storage.consent(guild_id, pseudonyms.member(user_id))
    if consent_state(consent, settings) is not ConsentState.GRANTED or not (consent and consent.level.allows_comments):
        return None
    return "updated" if await storage.replace_comment_text(message_id, cleaned) else None
