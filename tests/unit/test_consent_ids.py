"""Custom ids of the consent controls (bot/feedback/custom_ids.py): built, read back, old forms, the length limit."""

from __future__ import annotations

import re

import pytest

from bot.feedback.consent import CONSENT_TEXT_VERSION, consent_version
from bot.feedback.custom_ids import (
    ASK_TEMPLATE,
    CONSENT_TEMPLATE,
    MAX_CUSTOM_ID,
    AskId,
    ConsentId,
    pending_rating,
    rating_pending,
)
from bot.feedback.views import DYNAMIC_ITEMS, AskConsentButton, ConsentButton
from bot.storage import ConsentLevel, GuildSettings, RatingSource

BIGGEST_ROWID = 2**63 - 1  # SQLite's largest integer: answer ids and revisions are never longer
BIGGEST_SNOWFLAKE = 2**64 - 1  # Discord ids are unsigned 64-bit


def test_consent_id_carries_the_version_and_reads_back():
    choice = ConsentId(ConsentLevel.COMMENTS, 12, "r3", "1.4")
    assert choice.build() == "cb:consent:comments:12:r3:1.4"
    assert ConsentId.parse(choice.build()) == choice


@pytest.mark.parametrize("pending", ["r1", "e3", "c", "-"])
def test_every_pending_action_reads_back(pending):
    choice = ConsentId(ConsentLevel.QUOTES, 0, pending, "1.1")
    assert ConsentId.parse(choice.build()) == choice


def test_old_consent_id_reads_back_without_a_version():
    """Buttons in messages shown before versions were carried still parse, with nothing to accept them as."""
    old = ConsentId.parse("cb:consent:ratings:7:r2")
    assert old == ConsentId(ConsentLevel.RATINGS, 7, "r2", None)
    assert old.custom_id() == "cb:consent:ratings:7:r2"  # the button rebuilt from it keeps its id
    with pytest.raises(ValueError, match="version"):
        old.build()  # no new button is ever made without a version


@pytest.mark.parametrize(
    "custom_id",
    [
        "cb:consent:ratings:7:r2:",  # empty version
        "cb:consent:ratings:7:r2:v1.2",
        "cb:consent:ratings:7:r2:1",
        "cb:consent:ratings:7:r2:1.2.3",
        "cb:consent:ratings:7:x2:1.2",  # not a pending action
        "cb:consent:ratings:7:r12:1.2",
        "cb:consent:maybe:7:r2:1.2",  # not a level
        "cb:consent:ratings:-7:r2:1.2",
        "cb:consent:ratings:7:r2:1.2 ",
    ],
)
def test_malformed_consent_ids_are_not_read(custom_id):
    assert ConsentId.parse(custom_id) is None


def test_the_version_is_the_one_consent_version_gives():
    settings = GuildSettings(guild_id=1, consent_revision=BIGGEST_ROWID)
    version = consent_version(settings)
    assert version == f"{CONSENT_TEXT_VERSION}.{BIGGEST_ROWID}"
    choice = ConsentId(ConsentLevel.RATINGS, 1, "-", version)
    assert ConsentId.parse(choice.build()) == choice


def test_longest_possible_ids_fit_discords_limit():
    version = consent_version(GuildSettings(guild_id=1, consent_revision=BIGGEST_ROWID))
    longest_level = max(ConsentLevel, key=lambda level: len(level.value))
    consent = ConsentId(longest_level, BIGGEST_ROWID, "e9", version).build()
    ask = AskId(BIGGEST_ROWID, 9, BIGGEST_SNOWFLAKE).build()
    assert len(consent) <= MAX_CUSTOM_ID
    assert len(ask) <= MAX_CUSTOM_ID
    assert ConsentId.parse(consent) == ConsentId(longest_level, BIGGEST_ROWID, "e9", version)
    assert AskId.parse(ask) == AskId(BIGGEST_ROWID, 9, BIGGEST_SNOWFLAKE)


def test_ids_exactly_at_the_limit_are_built_and_one_more_is_refused():
    # An answer id padded so the whole id is exactly 100 characters, then 101.
    stem = len("cb:consent:ratings::-:1.1")
    at_limit = ConsentId(ConsentLevel.RATINGS, int("9" * (MAX_CUSTOM_ID - stem)), "-", "1.1")
    assert len(at_limit.build()) == MAX_CUSTOM_ID
    assert ConsentId.parse(at_limit.build()) == at_limit
    over = ConsentId(ConsentLevel.RATINGS, int("9" * (MAX_CUSTOM_ID - stem + 1)), "-", "1.1")
    with pytest.raises(ValueError, match="over Discord's 100"):
        over.build()

    ask_stem = len("cb:ask::3:1")
    ask_at_limit = AskId(int("9" * (MAX_CUSTOM_ID - ask_stem)), 3, 1)
    assert len(ask_at_limit.build()) == MAX_CUSTOM_ID
    assert AskId.parse(ask_at_limit.build()) == ask_at_limit
    with pytest.raises(ValueError, match="over Discord's 100"):
        AskId(int("9" * (MAX_CUSTOM_ID - ask_stem + 1)), 3, 1).build()


def test_ask_id_names_the_member_and_old_ones_name_nobody():
    ask = AskId(5, 1, 424242)
    assert ask.build() == "cb:ask:5:1:424242"
    assert AskId.parse(ask.build()) == ask
    old = AskId.parse("cb:ask:5:1")
    assert old == AskId(5, 1, None)
    assert old.custom_id() == "cb:ask:5:1"
    with pytest.raises(ValueError, match="member"):
        old.build()
    for bad in ("cb:ask:5:1:", "cb:ask:5:12", "cb:ask:5:1:me", "cb:ask::1:2"):
        assert AskId.parse(bad) is None, bad


def test_pending_ratings_keep_how_the_rating_was_given():
    assert rating_pending(3, RatingSource.BUTTON) == "r3"
    assert rating_pending(1, RatingSource.REACTION) == "e1"
    assert rating_pending(3, RatingSource.BUTTON, 3) == "r3/3"
    assert pending_rating("r3") == (3, RatingSource.BUTTON, None)
    assert pending_rating("e1") == (1, RatingSource.REACTION, None)
    assert pending_rating("r3/5") == (3, RatingSource.BUTTON, 5)
    for not_a_rating in ("c", "-", "", "r", "x3", "r33"):
        assert pending_rating(not_a_rating) is None, not_a_rating
    with pytest.raises(ValueError, match="one digit"):
        rating_pending(10, RatingSource.BUTTON)


def test_the_buttons_use_these_ids_and_templates():
    assert ConsentButton.__discord_ui_compiled_template__.pattern == CONSENT_TEMPLATE
    assert AskConsentButton.__discord_ui_compiled_template__.pattern == ASK_TEMPLATE
    assert ConsentButton(ConsentLevel.DECLINED, 3, "c", "1.2").item.custom_id == "cb:consent:declined:3:c:1.2"
    assert AskConsentButton(3, 2, 99).item.custom_id == "cb:ask:3:2:99"
    # Read back from old ids, the buttons keep them (discord.py checks the id against the template).
    assert ConsentButton(ConsentLevel.RATINGS, 3, "r1", None).item.custom_id == "cb:consent:ratings:3:r1"
    assert AskConsentButton(3, 2, None).item.custom_id == "cb:ask:3:2"


def test_no_other_control_claims_a_consent_id():
    ids = ["cb:consent:ratings:7:r2:1.3", "cb:consent:ratings:7:r2", "cb:ask:5:1:42", "cb:ask:5:1"]
    for custom_id in ids:
        claimed = [item for item in DYNAMIC_ITEMS if re.fullmatch(item.__discord_ui_compiled_template__, custom_id)]
        assert len(claimed) == 1, (custom_id, claimed)


def test_a_stored_note_too_long_for_the_notice_is_cut_between_graphemes():
    """A note stored before `/research settings` checked its length is shortened to fit; never inside a flag."""
    from bot.feedback.consent import NOTICE_ROOM, notice_text

    for filler in range(4):  # the cut lands at each position of a two-character flag
        note = "n" * filler + "🇻🇳" * 1500
        text = notice_text(GuildSettings(guild_id=1, consent_note=note), None)
        assert len(text) <= NOTICE_ROOM
        kept = text[text.index("n" * filler + "🇻🇳") :]
        before_ellipsis = kept[: kept.index("…")]
        assert len(before_ellipsis.removeprefix("n" * filler)) % 2 == 0, "no half flag"


def test_the_notice_says_questions_are_recorded_whatever_the_member_chooses():
    """Questions are recorded for everyone (PRIVACY.md, /about), so the notice a member agrees to says so too; it
    used to say only "before anything you give is kept, please choose". A new text: members are asked again."""
    from bot.feedback.consent import notice_text

    text = notice_text(GuildSettings(guild_id=1), None)
    assert "your questions, with my answers, whatever you choose" in text
    assert "Before anything you give is kept" not in text
    assert CONSENT_TEXT_VERSION >= 3
