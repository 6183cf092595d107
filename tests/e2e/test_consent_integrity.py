"""Consent is recorded for the text the member read, by the member who chose, for what they gave.

Through the stand-in with the real discord.py: a notice that changed between being shown and the click, a
notice whose retention or contact changed, and the public note after a reaction clicked by someone else.
"""

from __future__ import annotations

import asyncio
import datetime
import sqlite3

import discord
import pytest

from bot.feedback import views
from bot.feedback.consent import CONSENT_TEXT_VERSION as VERSION
from bot.feedback.views import NO_REACTION_NOW, NOTE_FOR_SOMEONE_ELSE, NOTICE_CHANGED
from bot.pseudonyms import Pseudonymizer
from cogs.privacy import PRIVACY_CONSENT_SUFFIX
from tests.e2e.test_feedback import ask, button, choose, click, custom_ids, db, rows
from tests.e2e.test_scope_commands import MANAGE_GUILD, run
from tests.helpers import eventually, give_consent

NOTICE_HEADING = "Your rating is research data"
NEW_NOTE = "We now also share anonymised ratings with a partner university."


def member_hash(user_id):
    return Pseudonymizer(b"k" * 32).member(user_id)


def choice(message, level):
    return next(c for c in custom_ids(message) if c.startswith(f"cb:consent:{level}:"))


def revision(world):
    [(value,)] = rows(world, "SELECT consent_revision FROM guild_settings")
    return value


async def post_as_bot(bot, world, content, ids):
    """A message from the bot with buttons of the given ids, as an older version of the bot would have posted."""
    view = discord.ui.View(timeout=None)
    for custom_id in ids:
        view.add_item(discord.ui.Button(label=custom_id.split(":")[2], custom_id=custom_id))
    with discord.http.handle_message_parameters(content=content, view=view) as params:
        data = await bot.http.send_message(world.channel_id, params=params)
    return world.standin.message(data["id"])


async def reaction_note(world, answer, user_id, emoji):
    """`user_id` reacts without having chosen; returns the public note the bot posts for them."""
    await world.standin.add_reaction(world.channel_id, answer.id, user_id, emoji)
    return await world.standin.wait_for_message(
        world.channel_id, lambda m: "thanks for rating" in m.content and m.mentions == [user_id]
    )


# 1. The version the member was shown


async def test_choice_on_a_notice_changed_since_it_was_shown_stores_nothing(world, run_bot, moderator_id):
    async with run_bot():
        answer = await ask(world)
        shown = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        assert NEW_NOTE not in shown.response_data["content"]
        assert all(c.endswith(f":{VERSION}.1") for c in custom_ids(shown.original))  # the version shown travels with it

        await run(world, moderator_id, "research settings", {"consent_note": NEW_NOTE})
        stale = await click(world, shown.original, world.member_id, choice(shown.original, "quotes"))

        # Nothing stored; the member is shown the current text instead, privately.
        assert stale.ephemeral
        assert stale.response_data["content"].startswith(NOTICE_CHANGED)
        assert NEW_NOTE in stale.response_data["content"]
        assert rows(world, "SELECT * FROM consents") == []
        assert rows(world, "SELECT * FROM consent_events") == []
        assert rows(world, "SELECT * FROM ratings") == []

        # Agreeing to the current notice stores that version, and the rating the member clicked before.
        current = stale.original
        assert all(c.endswith(f":{VERSION}.2") for c in custom_ids(current))
        assert choice(current, "quotes") == f"cb:consent:quotes:{answer_id_of(answer)}:r3/3:{VERSION}.2"
        chosen = await click(world, current, world.member_id, choice(current, "quotes"))
        thanks = await world.standin.wait_for_followup(chosen.id)
        assert "you rated this answer **Fits**" in thanks.content
        assert rows(world, "SELECT level, consent_version FROM consents") == [("quotes", f"{VERSION}.2")]
        assert rows(world, "SELECT value, source FROM ratings") == [(3, "button")]


async def test_the_same_notice_still_current_is_recorded_under_its_version(world, run_bot, moderator_id):
    async with run_bot():
        # A settings change that leaves the notice as it is does not make a shown notice stale.
        answer = await ask(world)
        shown = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        await run(world, moderator_id, "research settings", {"rating_controls": "buttons", "retention_days": 180})
        assert revision(world) == 1
        await click(world, shown.original, world.member_id, choice(shown.original, "ratings"))
        await eventually(lambda: rows(world, "SELECT value FROM ratings") == [(3,)], what="the pending rating")
        assert rows(world, "SELECT level, consent_version FROM consents") == [("ratings", f"{VERSION}.1")]


async def test_no_thanks_on_a_changed_notice_is_honoured_under_the_version_shown(world, run_bot, moderator_id):
    async with run_bot():
        answer = await ask(world)
        shown = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        await run(world, moderator_id, "research settings", {"consent_note": NEW_NOTE})
        declined = await choose(world, shown.original, world.member_id, choice(shown.original, "declined"))
        assert "I won't ask again" in declined.original.content
        assert rows(world, "SELECT level, consent_version FROM consent_events") == [("declined", f"{VERSION}.1")]
        assert rows(world, "SELECT * FROM ratings") == []


async def test_old_consent_buttons_without_a_version_are_not_taken_as_agreement(world, run_bot):
    async with run_bot() as bot:
        answer = await ask(world)
        answer_id = answer_id_of(answer)
        old = await post_as_bot(
            bot, world, "an old consent notice", [f"cb:consent:quotes:{answer_id}:r3", "cb:consent:declined:0:-"]
        )
        clicked = await click(world, old, world.member_id, f"cb:consent:quotes:{answer_id}:r3")
        assert clicked.ephemeral
        assert clicked.response_data["content"].startswith(NOTICE_CHANGED)
        assert rows(world, "SELECT * FROM consents") == []
        assert rows(world, "SELECT * FROM ratings") == []
        # The notice shown instead carries the current version and no pending rating: who gave it is unknown.
        assert set(custom_ids(clicked.original)) == {
            f"cb:consent:{level}:{answer_id}:-:{VERSION}.1" for level in ("ratings", "comments", "quotes", "declined")
        }
        await click(world, clicked.original, world.member_id, choice(clicked.original, "ratings"))
        await eventually(lambda: rows(world, "SELECT level FROM consents") == [("ratings",)], what="the consent")
        assert rows(world, "SELECT * FROM ratings") == []

        # A refusal, even on an old button, is honoured (under the current version: the one shown is unknown).
        declined = await choose(world, old, world.asker_id, "cb:consent:declined:0:-")
        assert "I won't ask again" in declined.original.content
        assert rows(
            world, "SELECT level, consent_version FROM consents WHERE member_hash = ?", (member_hash(world.asker_id),)
        ) == [("declined", f"{VERSION}.1")]


# 2. Every setting shown in the notice is part of its version


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"retention_days": 3650}, "deleted after 3650 days"),
        ({"research_contact": "Dr. Rina, Universitas Contoh, rina@example.org"}, "Dr. Rina, Universitas Contoh"),
    ],
)
async def test_a_change_to_the_notice_text_asks_members_again(world, run_bot, moderator_id, change, shown):
    async with run_bot():
        answer = await ask(world)
        notice = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        await click(world, notice.original, world.member_id, choice(notice.original, "comments"))
        await eventually(lambda: rows(world, "SELECT value FROM ratings") == [(3,)], what="the first rating")
        await give_consent(db(world), world.guild_id, world.asker_id, "declined")
        assert rows(world, "SELECT DISTINCT consent_version FROM consents") == [(f"{VERSION}.1",)]

        reply = await run(world, moderator_id, "research settings", change)
        text = reply.response_data["content"]
        assert "Consent notice revision: 2" in text
        assert f"(now version {VERSION}.2). Members who agreed to an earlier version are asked again" in text
        assert revision(world) == 2
        [(audit,)] = rows(
            world, "SELECT detail FROM audit_log WHERE action = 'settings.update' AND actor_id = ?", (moderator_id,)
        )
        assert "consent_revision" in audit
        assert f"now version {VERSION}.2: members who agreed before are asked again" in audit

        # The rule for a new version: who agreed before is asked again and nothing new is kept until they agree
        # (what they gave stays); who declined is not asked.
        partly = next(c for c in custom_ids(answer) if c.startswith("cb:rate:") and c.endswith(":2"))
        asked = await click(world, answer, world.member_id, partly)
        assert NOTICE_HEADING in asked.response_data["content"]
        assert shown in asked.response_data["content"]
        assert all(c.endswith(f":{VERSION}.2") for c in custom_ids(asked.original))
        assert rows(world, "SELECT value FROM ratings") == [(3,)]
        await world.standin.add_reaction(world.channel_id, answer.id, world.member_id, "❌")
        await world.standin.wait_for_message(
            world.channel_id, lambda m: "thanks for rating" in m.content and m.mentions == [world.member_id]
        )
        assert rows(world, "SELECT value FROM ratings") == [(3,)]
        status = await run(world, world.member_id, "privacy status")
        assert "under an older notice" in status.response_data["content"]
        refused = await click(world, answer, world.asker_id, button(answer, "cb:rate:"))
        assert refused.response_data["content"].startswith("You chose not to take part")

        # Agreeing again records the new version and stores what was clicked.
        await click(world, asked.original, world.member_id, choice(asked.original, "comments"))
        await eventually(lambda: rows(world, "SELECT value FROM ratings") == [(2,)], what="the new rating")
        assert rows(
            world, "SELECT consent_version FROM consents WHERE member_hash = ?", (member_hash(world.member_id),)
        ) == [(f"{VERSION}.2",)]


async def test_settings_that_leave_the_notice_alone_keep_its_version(world, run_bot, moderator_id):
    async with run_bot():
        await run(world, moderator_id, "research settings", {"retention_days": 90, "research_contact": "Uni A"})
        assert revision(world) == 2
        # The same values again, or settings the notice does not show: the same text, the same version.
        same = await run(
            world,
            moderator_id,
            "research settings",
            {"retention_days": 90, "research_contact": "Uni A", "rating_scale": "likert5", "reason_tags": "vague"},
        )
        assert revision(world) == 2
        assert "asked again" not in same.response_data["content"]
        await run(world, moderator_id, "research settings", {"consent_note": "Thank you!"})
        await run(world, moderator_id, "research settings", {"consent_note": "Thank you!"})
        assert revision(world) == 3


async def test_none_clears_the_consent_note_and_the_research_contact(world, run_bot, moderator_id):
    async with run_bot():
        await run(world, moderator_id, "research settings", {"consent_note": "Thank you!", "research_contact": "Uni A"})
        cleared = await run(
            world, moderator_id, "research settings", {"consent_note": "none", "research_contact": "None"}
        )
        text = cleared.response_data["content"]
        assert "Research contact: not set" in text and "note:" not in text
        assert rows(world, "SELECT consent_note, research_contact FROM guild_settings") == [(None, None)]
        assert "asked again" in text, "members read another notice"
        notice = (await run(world, world.member_id, "privacy consent")).original.content
        assert "none" not in notice.lower(), "members are never shown 'none' as a contact or a note"


async def test_shortening_retention_says_how_much_text_the_next_purge_deletes(world, run_bot, moderator_id):
    async with run_bot():
        await ask(world)
        finished = "SELECT count(*) FROM answers WHERE outcome != 'streaming'"
        await eventually(lambda: rows(world, finished) == [(1,)], what="the answer's record")
        with sqlite3.connect(db(world)) as conn:  # asked 40 days ago
            conn.execute("UPDATE answers SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-40 days')")
        shorter = await run(world, moderator_id, "research settings", {"retention_days": 30})
        assert (
            "Shortening retention to 30 days deletes the text of 1 answer and 0 comments older than that at the next "
            "daily purge, within a day; the ratings stay. To keep them, set `retention_days` back to 180 before then."
        ) in shorter.response_data["content"]
        longer = await run(world, moderator_id, "research settings", {"retention_days": 60})
        assert "Shortening" not in longer.response_data["content"]
        assert rows(world, "SELECT count(*) FROM answers WHERE question != ''") == [(1,)], "nothing purged yet"


# 3. The public note after a reaction belongs to the member who reacted


async def test_bystander_clicking_someone_elses_note_gets_no_rating(world, run_bot):
    async with run_bot():
        answer = await ask(world)
        note = await reaction_note(world, answer, world.member_id, "❌")
        assert button(note, "cb:ask:") == f"cb:ask:{answer_id_of(answer)}:1:{world.member_id}"

        # The asker clicks the note meant for the member: the notice, with nothing of the member's pending.
        seen = await click(world, note, world.asker_id, button(note, "cb:ask:"))
        assert seen.ephemeral
        assert seen.response_data["content"].startswith(NOTE_FOR_SOMEONE_ELSE)
        assert NOTICE_HEADING in seen.response_data["content"]
        assert all(":-:" in c for c in custom_ids(seen.original))
        # They can still choose for themselves; no rating comes of it, for anyone.
        chose = await choose(world, seen.original, world.asker_id, choice(seen.original, "ratings"))
        assert chose.original.content.startswith("Saved your choice: **ratings only**.")
        assert rows(world, "SELECT member_hash, level FROM consents") == [(member_hash(world.asker_id), "ratings")]
        assert rows(world, "SELECT * FROM ratings") == []

        # The member who reacted clicks: their reaction's rating is stored, as a reaction rating.
        theirs = await click(world, note, world.member_id, button(note, "cb:ask:"))
        assert not theirs.response_data["content"].startswith(NOTE_FOR_SOMEONE_ELSE)
        assert all(":e1:" in c for c in custom_ids(theirs.original))
        chosen = await click(world, theirs.original, world.member_id, choice(theirs.original, "ratings"))
        thanks = await world.standin.wait_for_followup(chosen.id)
        assert "you rated this answer **Does not fit**" in thanks.content
        assert rows(world, "SELECT rater_hash, value, source FROM ratings") == [
            (member_hash(world.member_id), 1, "reaction")
        ]

        # It is a reaction rating like any other: taking the reaction back removes it.
        await world.standin.remove_reaction(world.channel_id, answer.id, world.member_id, "❌")
        await eventually(lambda: rows(world, "SELECT * FROM ratings") == [], what="the rating to go with its reaction")


async def test_agreeing_from_a_note_stores_the_reaction_as_it_is_now(world, run_bot):
    async with run_bot():
        answer = await ask(world)
        note = await reaction_note(world, answer, world.member_id, "✅")
        # Before agreeing, the member changes their mind: ❌ instead of ✅ (the note still says ✅).
        await world.standin.add_reaction(world.channel_id, answer.id, world.member_id, "❌")
        await world.standin.remove_reaction(world.channel_id, answer.id, world.member_id, "✅")
        theirs = await click(world, note, world.member_id, button(note, "cb:ask:"))
        chosen = await click(world, theirs.original, world.member_id, choice(theirs.original, "ratings"))
        assert chosen.response_type == 6  # deferred: the reactions are read again first
        thanks = await world.standin.wait_for_followup(chosen.id)
        assert "you rated this answer **Does not fit**" in thanks.content
        assert rows(world, "SELECT value, source FROM ratings") == [(1, "reaction")]

        # Another member reacts, then takes the reaction back before agreeing: nothing is stored.
        note = await reaction_note(world, answer, world.asker_id, "🤔")
        await world.standin.remove_reaction(world.channel_id, answer.id, world.asker_id, "🤔")
        theirs = await click(world, note, world.asker_id, button(note, "cb:ask:"))
        chosen = await click(world, theirs.original, world.asker_id, choice(theirs.original, "ratings"))
        summary = await eventually(
            lambda: (m := world.standin.message(theirs.original.id)).content.startswith("Saved your choice") and m,
            what="the choice saved",
        )
        assert summary.content.endswith(NO_REACTION_NOW)
        assert rows(world, "SELECT rater_hash FROM ratings") == [(member_hash(world.member_id),)]


async def test_a_note_a_day_old_no_longer_carries_its_rating(world, run_bot, monkeypatch, caplog):
    budi = world.member_id
    async with run_bot():
        answer = await ask(world)
        note = await reaction_note(world, answer, budi, "❌")
    # The bot restarted before the note deleted itself: it stays in the channel, its rating in its button's id.
    assert not world.standin.message(note.id).deleted
    assert button(note, "cb:ask:") == f"cb:ask:{answer_id_of(answer)}:1:{budi}"
    # A day later, budi (whose ❌ is still on the answer) clicks it.
    later = discord.utils.utcnow() + datetime.timedelta(days=1)
    monkeypatch.setattr(views, "utcnow", lambda: later, raising=False)
    caplog.set_level("INFO", logger="bot.runtime")
    async with run_bot():
        # The reactions made while the bot was away are read back first (budi has not chosen: nothing is stored);
        # one read back after budi agreed would be stored, as any reaction of a member who agreed.
        await eventually(lambda: "rating reactions read back" in caplog.text, what="the catch-up")
        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        # The notice, to choose as anyone may, with no rating pending; budi is told why.
        assert all(":-:" in c for c in custom_ids(theirs.original)), "the note's rating is not carried on"
        assert theirs.response_data["content"].startswith(getattr(views, "NOTE_EXPIRED", "(none)"))
        assert NOTICE_HEADING in theirs.response_data["content"]
        chose = await choose(world, theirs.original, budi, choice(theirs.original, "ratings"))
        assert chose.original.content.startswith("Saved your choice: **ratings only**.")
        assert rows(world, "SELECT level FROM consents") == [("ratings",)]
        assert rows(world, "SELECT * FROM ratings") == []

        # A note less than a day old still carries its rating.
        monkeypatch.setattr(views, "utcnow", lambda: later - datetime.timedelta(minutes=2), raising=False)
        fresh = await reaction_note(world, answer, world.asker_id, "🤔")
        theirs = await click(world, fresh, world.asker_id, button(fresh, "cb:ask:"))
        assert all(":e2:" in c for c in custom_ids(theirs.original))


async def test_a_notice_left_open_for_a_day_no_longer_carries_its_rating(world, run_bot, monkeypatch):
    budi = world.member_id
    async with run_bot():
        answer = await ask(world)
        notice = await click(world, answer, budi, button(answer, "cb:rate:"))  # not chosen yet: the notice
        assert any(":r3/3:" in c for c in custom_ids(notice.original)), "the button's rating waits in the notice"
        # Budi's client keeps the private notice, its buttons working; a day later they agree.
        later = discord.utils.utcnow() + datetime.timedelta(days=1)
        monkeypatch.setattr(views, "utcnow", lambda: later, raising=False)
        chose = await choose(world, notice.original, budi, choice(notice.original, "ratings"))
        assert chose.original.content == "Saved your choice: **ratings only**. " + views.NOTICE_TOO_OLD
        assert rows(world, "SELECT level FROM consents") == [("ratings",)]
        assert rows(world, "SELECT * FROM ratings") == []


async def test_a_notice_a_day_old_does_not_pass_its_rating_to_a_newer_notice(world, run_bot, moderator_id, monkeypatch):
    budi = world.member_id
    async with run_bot():
        answer = await ask(world)
        notice = await click(world, answer, budi, button(answer, "cb:rate:"))
        await run(world, moderator_id, "research settings", {"consent_note": NEW_NOTE})  # a newer notice
        later = discord.utils.utcnow() + datetime.timedelta(days=1)
        monkeypatch.setattr(views, "utcnow", lambda: later, raising=False)
        current = await click(world, notice.original, budi, choice(notice.original, "ratings"))
        assert current.response_data["content"].startswith(NOTICE_CHANGED + views.NOTICE_TOO_OLD)
        assert all(":-:" in c for c in custom_ids(current.original)), "the rating is not carried on"
        chose = await choose(world, current.original, budi, choice(current.original, "ratings"))
        assert chose.original.content.startswith("Saved your choice: **ratings only**.")
        assert rows(world, "SELECT * FROM ratings") == []


async def test_old_note_naming_nobody_stores_no_rating(world, run_bot):
    async with run_bot() as bot:
        answer = await ask(world)
        old = await post_as_bot(bot, world, "an old note", [f"cb:ask:{answer_id_of(answer)}:3"])
        seen = await click(world, old, world.member_id, button(old, "cb:ask:"))
        assert NOTICE_HEADING in seen.response_data["content"]
        assert all(":-:" in c for c in custom_ids(seen.original))
        await click(world, seen.original, world.member_id, choice(seen.original, "quotes"))
        await eventually(lambda: rows(world, "SELECT level FROM consents") == [("quotes",)], what="the consent")
        assert rows(world, "SELECT * FROM ratings") == []


def answer_id_of(answer):
    """The answer id its rating buttons carry (cb:rate:<answer>:<value>)."""
    return int(button(answer, "cb:rate:").split(":")[2])


@pytest.fixture
def moderator_id(world):
    role = world.standin.add_role(world.guild_id, "Moderators", permissions=MANAGE_GUILD)
    return int(world.standin.add_member(world.guild_id, "mod-sari", roles=[role["id"]])["user"]["id"])


async def test_two_notice_changes_at_once_get_two_versions(world, run_bot, moderator_id):
    async with run_bot():
        before = revision(world)
        first, second = await asyncio.gather(
            run(world, moderator_id, "research settings", {"consent_note": "First note."}),
            run(world, moderator_id, "research settings", {"retention_days": 30}),
        )
        assert revision(world) == before + 2, "each text members may have read has a version of its own"
        replies = sorted(record.response_data["content"] for record in (first, second))
        assert any(f"now version {VERSION}.{before + 1}" in reply for reply in replies)
        assert any(f"now version {VERSION}.{before + 2}" in reply for reply in replies)


async def test_reasons_after_the_notice_changed_wait_for_consent_to_it(world, run_bot, moderator_id):
    async with run_bot():
        answer = await ask(world)
        notice = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        chosen = await click(world, notice.original, world.member_id, choice(notice.original, "comments"))
        thanks = await world.standin.wait_for_followup(chosen.id)
        # The server's notice changes before the member picks reasons from the menu they were offered.
        await run(world, moderator_id, "research settings", {"retention_days": 30})
        select_id = next(c for c in custom_ids(thanks) if c.startswith("cb:reasons:"))
        picked = await world.standin.select_option(
            thanks.channel_id, thanks.id, world.member_id, select_id, ["too generic"]
        )
        record = await world.standin.wait_for_interaction_response(picked)
        text = record.response_data["content"]
        assert NOTICE_HEADING in text, "the member is asked about the current notice"
        assert text.startswith(views.REASONS_NEED_CHOICE), "and told that their reasons were not saved"
        assert rows(world, "SELECT count(*) FROM rating_reasons") == [(0,)]
        assert rows(world, "SELECT count(*) FROM ratings") == [(1,)], "the rating given before stays"


async def test_the_longest_research_settings_are_stored_whole_and_shown_in_one_message(world, run_bot, moderator_id):
    tags = [f"tag {n:02d} " + "x" * 84 for n in range(25)]
    change = {"consent_note": "n" * 300, "research_contact": "c" * 300, "reason_tags": ", ".join(tags)}
    async with run_bot():
        reply = await run(world, moderator_id, "research settings", change)
        text = reply.response_data["content"]
        assert len(text) <= 2000 and text.startswith("**Research settings** (updated)")
        assert "tag 00" in text and "…" in text
    [(note, contact, stored_tags)] = rows(
        world, "SELECT consent_note, research_contact, reason_tags FROM guild_settings"
    )
    assert (note, contact) == ("n" * 300, "c" * 300)
    assert all(tag in stored_tags for tag in tags)


async def test_a_consent_note_too_long_for_the_notice_is_refused(world, run_bot, moderator_id):
    async with run_bot():
        reply = await run(world, moderator_id, "research settings", {"consent_note": "n" * 1000})
        text = reply.response_data["content"]
        assert text.startswith("Nothing was changed: with this consent note and research contact the consent notice")
        assert "Shorten the note" in text
    assert rows(world, "SELECT consent_note, consent_revision FROM guild_settings") == [(None, 1)]


async def test_a_long_note_stored_before_the_limit_still_lets_members_choose(world, run_bot):
    async with run_bot():
        pass  # the database, with the server's settings row
    with sqlite3.connect(db(world)) as conn:  # settings stored before the check existed
        conn.execute("UPDATE guild_settings SET consent_note = ?, research_contact = ?", ("n" * 1000, "c" * 300))
    async with run_bot(privacy_url="https://example.org/culturebot-privacy"):
        answer = await ask(world)
        notice = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        text = notice.response_data["content"]
        assert len(text) <= 2000 and "Your rating is research data" in text
        assert (
            "n" * 200 in text
            and "n" * 1000 not in text
            and "n…" in text
            and text.endswith("https://example.org/culturebot-privacy")
        )
        await click(world, notice.original, world.member_id, choice(notice.original, "ratings"))
        await eventually(lambda: rows(world, "SELECT level FROM consents") == [("ratings",)], what="the choice")


async def test_the_notice_opened_with_privacy_consent_does_not_ask_about_an_answer(world, run_bot):
    """Opened by the member, with no rating under way, the notice began "How well did this answer fit your
    community?". Its heading now says what it is about; the rest, and its version, are the notice's own."""
    from bot.feedback.consent import GENERAL_HEADING, RATING_HEADING

    async with run_bot():
        opened = await run(world, world.member_id, "privacy consent")
        text = opened.response_data["content"]
        assert text.startswith(GENERAL_HEADING + "\n") and "this answer" not in text
        await choose(world, opened.original, world.member_id, choice(opened.original, "ratings"))
        answer = await ask(world)
        # The agreement counts for ratings as one given under the rating heading would: no notice again.
        rated = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        assert "you rated this answer" in rated.response_data["content"]
    assert len(GENERAL_HEADING) <= len(RATING_HEADING), "the room kept for the notice counts the rating heading"


def test_every_preface_of_the_notice_fits_the_room_kept_for_it():
    from bot.feedback.consent import MAX_PREFACE

    prefaces = (
        NOTICE_CHANGED,
        NOTICE_CHANGED + views.NOTICE_TOO_OLD + "\n\n",
        NOTE_FOR_SOMEONE_ELSE,
        views.NOTE_EXPIRED,
        views.REASONS_NEED_CHOICE,
        PRIVACY_CONSENT_SUFFIX,
    )
    assert max(len(preface) for preface in prefaces) <= MAX_PREFACE


# 4. Rating buttons mean what they showed, whatever the server's scale is now


async def test_buttons_under_older_answers_keep_their_scale_after_a_change(world, run_bot, moderator_id):
    async with run_bot(cooldown=0):
        answer = await ask(world)
        fits = button_with_label(answer, "Fits")
        assert fits == f"cb:rate:{answer_id_of(answer)}:3:3"
        await run(world, moderator_id, "research settings", {"rating_scale": "likert5"})
        # A member who has not agreed yet clicks the old "Fits": once they agree, it is stored as 3 of 3.
        notice = await click(world, answer, world.member_id, fits)
        assert all(":r3/3:" in c for c in custom_ids(notice.original))
        chosen = await click(world, notice.original, world.member_id, choice(notice.original, "ratings"))
        thanks = await world.standin.wait_for_followup(chosen.id)
        assert "you rated this answer **Fits**" in thanks.content
        assert rows(world, "SELECT value, scale_size FROM ratings") == [(3, 3)]
        # A member who had agreed: "Does not fit" stays 1 of 3, not 1 of 5.
        await give_consent(db(world), world.guild_id, world.asker_id)
        rated = await click(world, answer, world.asker_id, button_with_label(answer, "Does not fit"))
        assert "**Does not fit**" in rated.response_data["content"]
        hash_of = member_hash(world.asker_id)
        assert rows(world, "SELECT value, scale_size FROM ratings WHERE rater_hash = ?", (hash_of,)) == [(1, 3)]
        # A button from before ids carried the scale is read by its label: "Partly fits" is 2 of 3.
        message = world.standin.message(answer.id)
        for row in message.components:
            for component in row["components"]:
                if component.get("label") == "Partly fits":
                    component["custom_id"] = f"cb:rate:{answer_id_of(answer)}:2"
        legacy = await click(world, message, world.asker_id, f"cb:rate:{answer_id_of(answer)}:2")
        assert "**Partly fits**" in legacy.response_data["content"]
        assert rows(world, "SELECT value, scale_size FROM ratings WHERE rater_hash = ?", (hash_of,)) == [(2, 3)]
        # New answers get the new scale's buttons, which store on it.
        newer = await ask(world, "And my manager's manager?")
        assert button_with_label(newer, "4") == f"cb:rate:{answer_id_of(newer)}:5:4"
        await click(world, newer, world.asker_id, button_with_label(newer, "4"))
        assert rows(world, "SELECT value, scale_size FROM ratings WHERE answer_id = ?", (answer_id_of(newer),)) == [
            (4, 5)
        ]


def button_with_label(message, label):
    return next(c["custom_id"] for row in message.components for c in row["components"] if c.get("label") == label)


async def test_choosing_less_on_a_notice_asked_again_says_what_it_deleted(world, run_bot, moderator_id):
    """PRIVACY.md: choosing less deletes what the member gave beyond it; the reply says how much, on the notice a
    rating button opens again after the notice changed, as in /privacy consent."""
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    async with run_bot(cooldown=0):
        answer = await ask(world)
        for text in ("fit: misses Batak usage", "fit: too formal"):
            await world.standin.send_message(
                world.channel_id, world.member_id, f"<@{world.standin.bot_user_id}> {text}", reply_to=answer.id
            )
        await eventually(lambda: rows(world, "SELECT count(*) FROM comments") == [(2,)], what="the comments")
        await run(world, moderator_id, "research settings", {"consent_note": "We now also study regional variation."})
        notice = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        chosen = await choose(world, notice.original, world.member_id, choice(notice.original, "ratings"))
        assert rows(world, "SELECT count(*) FROM comments") == [(0,)]
        assert "this deleted (or made unquotable) 2 ratings, comments and questions of yours" in chosen.original.content
        # Choosing the same again takes nothing back, and says nothing about it.
        notice = (await run(world, world.member_id, "privacy consent")).original
        again = await choose(world, notice, world.member_id, choice(notice, "ratings"))
        assert "deleted" not in again.original.content
        notice = (await run(world, world.member_id, "privacy consent")).original
        declined = await choose(world, notice, world.member_id, choice(notice, "declined"))
        assert "this deleted (or made unquotable) 1 rating, comment or question of yours" in declined.original.content


async def test_a_comment_form_sent_after_the_notice_changed_is_refused_with_its_text_given_back(
    world, run_bot, moderator_id
):
    """The notice changed while Budi typed in the comment form: nothing is kept until they choose again. The reply
    said only "Please choose whether to take part first", and up to 4,000 typed characters were gone."""
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    async with run_bot():
        answer = await ask(world)
        form = await click(world, answer, world.member_id, button(answer, "cb:comment:"))
        assert form.modal is not None and form.modal["title"] == "Comment on this answer"
        await run(world, moderator_id, "research settings", {"consent_note": NEW_NOTE})
        text = "Too formal for a family chat; we would say 'mbak' here."
        sent = await world.standin.submit_modal(form, world.member_id, values={"comment": text})
        record = await world.standin.wait_for_interaction_response(sent)
        content = record.response_data["content"]
        assert record.ephemeral and content.startswith("Your comment was not saved")
        assert "the research notice changed" in content and "Your text is attached" in content
        [attachment] = record.original.attachments
        assert attachment.filename == "your-comment.txt" and attachment.data.decode() == text
    assert rows(world, "SELECT count(*) FROM comments") == [(0,)]
