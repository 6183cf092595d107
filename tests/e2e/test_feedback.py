"""Member feedback through the stand-in: consent first, ratings, reasons, comments, privacy, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
from datetime import UTC, datetime, timedelta

import pytest

from bot.digests.pseudonyms import export_pseudonym
from bot.feedback.privacy import RENAME_LATER
from bot.feedback.ratings import RatingChange
from bot.jobs import run_retention
from bot.pseudonyms import Pseudonymizer
from bot.sandbox.fake_openai import Reply
from bot.storage import SqliteStorage
from tests.e2e.test_scope_commands import MANAGE_GUILD, reply_text, run
from tests.helpers import cells_containing, eventually, give_consent

FINISHED = "SELECT count(*) FROM answers WHERE outcome != 'streaming'"
FORGET_TABLES = ("ratings", "rating_reasons", "comments", "consents", "consent_events")


def db(world):
    return world.tmp_path / "bot.sqlite3"


def rows(world, sql, params=()):
    # Closed at once: an open connection to a WAL database keeps a lock that stops a restored backup (in
    # rollback-journal mode) from being switched back to WAL by the next bot.
    with contextlib.closing(sqlite3.connect(db(world))) as conn:
        return conn.execute(sql, params).fetchall()


async def ask(world, text="How do I address my manager?"):
    """A member asks; returns the finished answer message (with its rating controls)."""
    world.model.script("Use Pak or Bu with the first name; it varies by company.")
    before = {message.id for message in world.standin.bot_messages(world.channel_id)}
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention(text))

    def finished():
        messages = world.standin.bot_messages(world.channel_id)
        new = messages and messages[-1].id not in before
        return messages[-1] if new and messages[-1].components else None

    return await world.standin.wait_for(finished, what="the answer with its controls")


def custom_ids(message):
    return [c["custom_id"] for row in message.components for c in row["components"] if "custom_id" in c]


def button_labeled(message, label):
    return next(c["custom_id"] for row in message.components for c in row["components"] if c.get("label") == label)


def button(message, prefix):
    return next(custom_id for custom_id in custom_ids(message) if custom_id.startswith(prefix))


async def click(world, message, user_id, custom_id):
    interaction_id = await world.standin.click_button(message.channel_id, message.id, user_id, custom_id)
    return await world.standin.wait_for_interaction_response(interaction_id)


async def choose(world, notice, user_id, custom_id):
    """Click a choice on a consent notice, and wait until the notice says what was stored: the click is answered
    first (a deferred update), then the choice stored and the notice edited (its text in `.original.content`)."""
    record = await click(world, notice, user_id, custom_id)
    if record.response_type == 6:
        await world.standin.wait_for(lambda: not record.original.components, what="the notice edited")
    return record


def handled_reactions(monkeypatch):
    """Every reaction event the running bot has applied, as (message id, member id, added, RatingChange): a
    positive signal that an event which changes nothing was handled. Call it once the bot runs (discord.py loads
    the cog as a new module object)."""
    feedback = sys.modules["cogs.feedback"]
    original = feedback.apply_reaction
    handled = []

    async def apply_reaction(*args, **kwargs):
        result = await original(*args, **kwargs)
        handled.append((kwargs["message_id"], kwargs["user_id"], kwargs["added"], result[0]))
        return result

    monkeypatch.setattr(feedback, "apply_reaction", apply_reaction)
    return handled


def finished(world, count):
    """A check: `count` answers are finished."""
    return lambda: rows(world, FINISHED) == [(count,)]


async def forget(world, member_id):
    """/privacy forget, confirmed; the summary the confirmation message is edited to (its buttons gone)."""
    confirm = await run(world, member_id, "privacy forget")
    prompt = confirm.original.content
    await click(world, confirm.original, member_id, button_labeled(confirm.original, "Delete everything"))

    def summary():
        message = world.standin.message(confirm.original.id)
        return message.content if message.content != prompt and not message.components else None

    return await eventually(summary, what="the forget summary")


async def test_button_rating_asks_consent_first_then_stores(world, run_bot):
    async with run_bot():
        answer = await ask(world)
        assert len(custom_ids(answer)) == 4  # three ratings and Comment
        notice = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        assert notice.ephemeral
        assert "Your rating is research data" in notice.response_data["content"]
        assert rows(world, "SELECT * FROM ratings") == []
        assert rows(world, "SELECT * FROM consents") == []

        # The member chooses ratings and comments: the pending rating is stored, then confirmed.
        consent_message = notice.original
        choice = next(c for c in custom_ids(consent_message) if c.startswith("cb:consent:comments:"))
        chosen = await click(world, consent_message, world.member_id, choice)
        thanks = await world.standin.wait_for_followup(chosen.id)
        assert "you rated this answer **Fits**" in thanks.content
        assert rows(world, "SELECT value, source, is_asker FROM ratings") == [(3, "button", 0)]
        assert rows(world, "SELECT level FROM consents") == [("comments",)]

        # Reasons from the menu offered with the thanks.
        select_id = next(c for c in custom_ids(thanks) if c.startswith("cb:reasons:"))
        picked = await world.standin.select_option(
            thanks.channel_id, thanks.id, world.member_id, select_id, ["too generic", "misses variation"]
        )
        record = await world.standin.wait_for_interaction_response(picked)
        assert record.response_data["content"] == "Saved your reasons: too generic, misses variation."
        assert sorted(rows(world, "SELECT tag FROM rating_reasons")) == [("misses variation",), ("too generic",)]

        # Changing the rating by button updates the one rating.
        partly = next(c for c in custom_ids(answer) if c.endswith(":2"))
        again = await click(world, answer, world.member_id, partly)
        assert "**Partly fits**" in again.response_data["content"]
        assert rows(world, "SELECT value FROM ratings") == [(2,)]
        # The reasons were given for "Fits": they go with it, and the menu is offered again.
        assert rows(world, "SELECT tag FROM rating_reasons") == []
        [(answer_id,)] = rows(world, "SELECT answer_id FROM answers")
        assert select_id == f"cb:reasons:{answer_id}:3", "the menu names the rating it was offered with"
        # Reasons picked in the first menu were for "Fits": not saved on "Partly fits", and the member is told.
        stale = await world.standin.select_option(
            thanks.channel_id, thanks.id, world.member_id, select_id, ["too generic"]
        )
        assert (
            "You changed your rating since this menu was shown"
            in ((await world.standin.wait_for_interaction_response(stale)).response_data["content"])
        )
        assert rows(world, "SELECT tag FROM rating_reasons") == []
        partly_menu = next(c for c in custom_ids(again.original) if c.startswith("cb:reasons:"))
        assert partly_menu == f"cb:reasons:{answer_id}:2"
        picked = await world.standin.select_option(
            again.channel_id, again.original.id, world.member_id, partly_menu, ["misses variation"]
        )
        await world.standin.wait_for_interaction_response(picked)
        assert rows(world, "SELECT tag FROM rating_reasons") == [("misses variation",)]
        # The same rating again (a second click) keeps them.
        await click(world, answer, world.member_id, partly)
        assert rows(world, "SELECT value FROM ratings") == [(2,)]
        assert rows(world, "SELECT tag FROM rating_reasons") == [("misses variation",)]


async def test_declined_member_is_never_stored_nor_asked_again(world, run_bot, monkeypatch):
    async with run_bot():
        answer = await ask(world)
        handled = handled_reactions(monkeypatch)
        notice = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        decline = next(c for c in custom_ids(notice.original) if c.startswith("cb:consent:declined:"))
        declined = await choose(world, notice.original, world.member_id, decline)
        assert "I won't ask again" in declined.original.content

        again = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        assert again.response_data["content"].startswith("You chose not to take part")
        await world.standin.add_reaction(world.channel_id, answer.id, world.member_id, "✅")
        # The reaction was handled and refused (so no consent prompt follows it), and nothing was stored.
        await eventually(lambda: handled, what="the reaction handled")
        assert handled == [(answer.id, world.member_id, True, RatingChange.DECLINED)]
        comment = await click(world, answer, world.member_id, button(answer, "cb:comment:"))
        assert comment.modal is None
        assert rows(world, "SELECT * FROM ratings") == []
        assert not [m for m in world.standin.bot_messages(world.channel_id) if "thanks for rating" in m.content]


async def test_reaction_without_consent_prompts_in_channel_pinging_only_the_member(world, run_bot):
    async with run_bot() as bot:
        # The client's default pings nobody: a call that does not name whom it pings pings no one.
        assert bot.allowed_mentions is not None and bot.allowed_mentions.to_dict() == {"parse": []}
        answer = await ask(world)
        await world.standin.add_reaction(world.channel_id, answer.id, world.member_id, "❌")
        prompt = await world.standin.wait_for_message(world.channel_id, lambda m: "thanks for rating" in m.content)
        assert prompt.mentions == [world.member_id]
        # What the bot asked Discord for: only that member may be pinged (no @everyone, @here or roles).
        assert prompt.allowed_mentions is not None
        assert prompt.allowed_mentions.get("parse") == []
        assert [int(user) for user in prompt.allowed_mentions.get("users", [])] == [world.member_id]
        assert rows(world, "SELECT * FROM ratings") == []
        notice = await click(world, prompt, world.member_id, button(prompt, "cb:ask:"))
        assert notice.ephemeral
        ratings_only = next(c for c in custom_ids(notice.original) if c.startswith("cb:consent:ratings:"))
        await click(world, notice.original, world.member_id, ratings_only)
        await eventually(lambda: rows(world, "SELECT value FROM ratings") == [(1,)], what="the pending rating")
        # A second reaction from the same member is stored directly, no second prompt.
        await world.standin.add_reaction(world.channel_id, answer.id, world.member_id, "✅")
        await eventually(lambda: rows(world, "SELECT value FROM ratings") == [(3,)], what="the changed rating")
        assert len([m for m in world.standin.bot_messages(world.channel_id) if "thanks for rating" in m.content]) == 1


async def test_a_consent_note_discord_refused_is_tried_again_at_a_reaction_after_a_short_delay(
    world, run_bot, monkeypatch, caplog
):
    # Long enough that the second reaction is surely handled within it on a loaded machine (0.5 s was not, in CI).
    budi, retry_after = world.member_id, 2.0
    async with run_bot() as bot:
        answer = await ask(world)
        bot.get_cog("Feedback")._asked.retry_after = retry_after  # a minute in production
        handled = handled_reactions(monkeypatch)
        first = len(world.standin.requests)
        caplog.set_level("WARNING", logger="cogs.feedback")
        world.standin.fail_next("POST", rf"^/channels/{world.channel_id}/messages$", status=403)
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "❌")
        await eventually(lambda: "could not ask member for consent" in caplog.text, what="the note refused")
        # At once, another reaction does not try again: Discord counts refused requests.
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: len(handled) == 2, what="the second reaction handled")
        assert not [m for m in world.standin.bot_messages(world.channel_id) if "thanks for rating" in m.content]
        # The member was never asked, so the full cooldown did not start: a reaction after the delay brings the note.
        await asyncio.sleep(retry_after)
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "🤔")
        note = await world.standin.wait_for_message(world.channel_id, lambda m: "thanks for rating" in m.content)
        assert button(note, "cb:ask:").endswith(f":2:{budi}")

        # The consent notes by their text (the answer's own last request may be logged just after `first`), once
        # the delivered one is logged too (the stand-in logs a request when it has answered it).
        def notes():
            return [
                r.fault
                for r in world.standin.requests[first:]
                if r.matches("POST", rf"^/channels/{world.channel_id}/messages$")
                and "thanks for rating" in str((r.json or {}).get("content", ""))
            ]

        await eventually(lambda: len(notes()) == 2, what="both notes logged")
        assert notes() == [True, False], "one refused note, then the one delivered"
        assert rows(world, "SELECT * FROM ratings") == []


async def test_new_consent_version_asks_again(world, run_bot, moderator_id):
    async with run_bot():
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.member_id, "ratings")
        stored = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        assert "you rated this answer" in stored.response_data["content"]
        await run(world, moderator_id, "research settings", {"consent_note": "We now also study regional variation."})
        asked = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        assert "Your rating is research data" in asked.response_data["content"]
        assert "We now also study regional variation." in asked.response_data["content"]


async def test_buttons_work_after_a_restart(world, run_bot):
    async with run_bot():
        answer = await ask(world)
    await give_consent(db(world), world.guild_id, world.member_id, "ratings")
    async with run_bot():  # a new process would have no memory of the old message's view
        record = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        assert "you rated this answer **Fits**" in record.response_data["content"]
    assert rows(world, "SELECT value FROM ratings") == [(3,)]


async def test_comment_form_and_its_edge_cases(world, run_bot):
    async with run_bot():
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.member_id, "quotes")

        async def comment(text):
            opened = await click(world, answer, world.member_id, button(answer, "cb:comment:"))
            [text_input] = [c for row in opened.modal["components"] for c in row["components"]]
            assert opened.modal["title"] == "Comment on this answer"
            submitted = await world.standin.submit_modal(
                opened, world.member_id, values={text_input["custom_id"]: text}
            )
            return await world.standin.wait_for_interaction_response(submitted)

        long_text = "Older relatives would expect Bapak here. " * 97 + "End."
        assert len(long_text) <= 4000
        assert (await comment(long_text)).response_data["content"] == "Thanks, your comment is saved."
        empty = await comment("   ")
        assert empty.response_data["content"] == "Your comment was empty, so nothing was saved."
        pinging = await comment("@everyone this misses how Batak families do it")
        assert pinging.response_data["content"] == "Thanks, your comment is saved."
        stored = rows(world, "SELECT text, source, quotable FROM comments ORDER BY comment_id")
        assert stored == [(long_text, "modal", 1), ("@everyone this misses how Batak families do it", "modal", 1)]
        assert "@everyone" not in pinging.response_data["content"]
        # Nothing the bot sent (the private replies included) could ping @everyone, whatever its text.
        sent = [m for m in world.standin.state.messages.values() if m.author_id == world.standin.bot_user_id]
        assert pinging.original in sent
        assert all(could_not_ping_everyone(m) for m in sent), [(m.content, m.allowed_mentions) for m in sent]


async def test_a_comment_the_bot_fails_to_save_is_given_back(world, run_bot, monkeypatch):
    """The database fails as a comment form's text is saved: the member is told, and gets what they wrote back as
    a file (a form cannot be reopened with it). It was lost."""
    async with run_bot() as bot:
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.member_id, "comments")

        async def disk_full(*args, **kwargs):
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(bot.storage, "add_comment", disk_full)
        opened = await click(world, answer, world.member_id, button(answer, "cb:comment:"))
        [text_input] = [c for row in opened.modal["components"] for c in row["components"]]
        text = "In Medan we would say Abang, not Mas. " * 20
        sent = await world.standin.submit_modal(opened, world.member_id, values={text_input["custom_id"]: text})
        record = await world.standin.wait_for_interaction_response(sent)
        assert record.ephemeral and record.response_data["content"].endswith("What you wrote is attached.")
        [attachment] = record.original.attachments
        assert attachment.filename == "your-comment.txt" and attachment.data.decode() == text
        assert rows(world, "SELECT count(*) FROM comments") == [(0,)]


def could_not_ping_everyone(message):
    """Whether the message's allowed_mentions (as the bot sent it) rule out @everyone and @here, and it pinged
    neither. Without allowed_mentions, Discord pings everything the text mentions."""
    allowed = message.allowed_mentions
    return allowed is not None and "everyone" not in allowed.get("parse", []) and not message.mention_everyone


async def test_comment_forms_of_two_members_on_one_answer_each_save_their_own_words(world, run_bot):
    pseudonyms = Pseudonymizer(b"k" * 32)  # the key the test settings use
    names = {pseudonyms.member(world.member_id): "budi", pseudonyms.member(world.asker_id): "ayu"}

    async def open_form(member):
        opened = await click(world, answer, member, button(answer, "cb:comment:"))
        [text_input] = [c for row in opened.modal["components"] for c in row["components"]]
        return opened, text_input["custom_id"]

    async with run_bot():
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.member_id, "quotes")
        await give_consent(db(world), world.guild_id, world.asker_id, "quotes")
        # Both open the form, then the first to open it submits first; then both at once.
        (budi, budi_input), (ayu, ayu_input) = await open_form(world.member_id), await open_form(world.asker_id)
        sent = await world.standin.submit_modal(budi, world.member_id, values={budi_input: "Budi: say Bapak."})
        assert (await world.standin.wait_for_interaction_response(sent)).response_data["content"] == (
            "Thanks, your comment is saved."
        )
        sent = await world.standin.submit_modal(ayu, world.asker_id, values={ayu_input: "Ayu: say Ibu."})
        await world.standin.wait_for_interaction_response(sent)
        (budi, budi_input), (ayu, ayu_input) = await open_form(world.member_id), await open_form(world.asker_id)
        both = await asyncio.gather(
            world.standin.submit_modal(budi, world.member_id, values={budi_input: "Budi again."}),
            world.standin.submit_modal(ayu, world.asker_id, values={ayu_input: "Ayu again."}),
        )
        for sent in both:
            record = await world.standin.wait_for_interaction_response(sent)
            assert record.response_data["content"] == "Thanks, your comment is saved."
        # A form opened before a restart is saved after it.
        budi, budi_input = await open_form(world.member_id)
    async with run_bot():
        sent = await world.standin.submit_modal(budi, world.member_id, values={budi_input: "Budi after the restart."})
        assert (await world.standin.wait_for_interaction_response(sent)).response_data["content"] == (
            "Thanks, your comment is saved."
        )
    stored = sorted((names[rater], text) for rater, text in rows(world, "SELECT rater_hash, text FROM comments"))
    assert stored == [
        ("ayu", "Ayu again."),
        ("ayu", "Ayu: say Ibu."),
        ("budi", "Budi after the restart."),
        ("budi", "Budi again."),
        ("budi", "Budi: say Bapak."),
    ]


async def test_a_comment_form_sent_again_is_stored_once(world, run_bot, monkeypatch):
    """The form's first reply fails (Discord refuses it), so the member sends the same words again: a form has
    no message id to tell a second delivery by, so the same text on the same answer within minutes is one."""
    async with run_bot():
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.member_id, "comments")
        opened = await click(world, answer, world.member_id, button(answer, "cb:comment:"))
        [text_input] = [c for row in opened.modal["components"] for c in row["components"]]
        values = {text_input["custom_id"]: "Say Bapak to older men at work."}
        world.standin.fail_next("POST", r"/interactions/\d+/[^/]+/callback", status=404, count=1)
        await world.standin.submit_modal(opened, world.member_id, values=values)
        await eventually(lambda: rows(world, "SELECT count(*) FROM comments") == [(1,)], what="the first comment")
        again = await world.standin.submit_modal(opened, world.member_id, values=values)
        assert (await world.standin.wait_for_interaction_response(again)).response_data["content"] == (
            "Thanks, your comment is saved."
        )
        # Other words are another comment.
        other = await world.standin.submit_modal(
            opened, world.member_id, values={text_input["custom_id"]: "And Ibu to older women."}
        )
        await world.standin.wait_for_interaction_response(other)
    assert rows(world, "SELECT text FROM comments ORDER BY comment_id") == [
        ("Say Bapak to older men at work.",),
        ("And Ibu to older women.",),
    ]


async def test_reply_comment_is_stored_once_and_confirmed(world, run_bot):
    async with run_bot():
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.asker_id, "comments")
        reply = await world.standin.send_message(
            world.channel_id,
            world.asker_id,
            f"<@{world.standin.bot_user_id}> fit: too formal for coffee breaks",
            reply_to=answer.id,
        )
        await world.standin.wait_for(
            lambda: world.standin.message(reply["id"]).reactions.get("📝"), what="the saved-comment reaction"
        )
        # The same gateway event delivered again is stored once; the reply is not answered as a question.
        await world.standin.dispatch("MESSAGE_CREATE", reply)
        await world.standin.wait_for(lambda: len(world.standin.events("MESSAGE_CREATE")) >= 3)
        assert rows(world, "SELECT text, source FROM comments") == [("too formal for coffee breaks", "reply")]
        assert len(world.model.chat_requests) == 1, [r.messages[-1]["content"] for r in world.model.chat_requests]


async def test_a_reply_comment_is_kept_where_the_bot_cannot_react_and_an_empty_mention_where_it_cannot_reply(
    world, run_bot, caplog
):
    async with run_bot():
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.asker_id, "comments")
        bot_user = world.standin.bot_user_id
        world.standin.set_permission_overwrite(world.channel_id, bot_user, deny=1 << 6, type=1)  # Add Reactions
        await world.standin.send_message(
            world.channel_id, world.asker_id, f"<@{bot_user}> fit: too formal", reply_to=answer.id
        )
        await eventually(lambda: rows(world, "SELECT text FROM comments") == [("too formal",)], what="the comment")
        # Confirmed all the same: the member must not wonder whether it was kept.
        await world.standin.wait_for_message(world.channel_id, lambda m: m.content == "📝 Comment saved.")
        quiet = world.standin.add_channel(world.guild_id, "read-only")
        world.standin.set_permission_overwrite(quiet["id"], bot_user, deny=1 << 11, type=1)  # Send Messages
        await world.standin.send_message(quiet["id"], world.asker_id, f"<@{bot_user}>")
        await eventually(
            lambda: any("empty-mention hint" in r.getMessage() for r in caplog.records), what="the hint's failure"
        )
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]


async def test_all_of_the_longest_reasons_are_saved_and_confirmed_in_one_message(world, run_bot):
    tags = [f"reason {n:02d} " + "r" * 88 for n in range(25)]
    async with run_bot():
        pass  # the database, with the server's settings row
    with sqlite3.connect(db(world)) as conn:
        conn.execute("UPDATE guild_settings SET reason_tags = ?", (json.dumps(tags),))
    await give_consent(db(world), world.guild_id, world.member_id, "ratings")
    async with run_bot():
        answer = await ask(world)
        rated = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        select_id = next(c for row in rated.response_data["components"] for c in row["components"])["custom_id"]
        picked = await world.standin.select_option(
            answer.channel_id, rated.original.id, world.member_id, select_id, tags
        )
        record = await world.standin.wait_for_interaction_response(picked)
        text = record.response_data["content"]
        assert len(text) <= 2000 and text.startswith("Saved your reasons: reason 00") and text.endswith("…")
    assert len(rows(world, "SELECT tag FROM rating_reasons")) == 25


async def test_duplicated_reaction_event_counts_once(world, run_bot):
    async with run_bot():
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.member_id, "ratings")
        await world.standin.add_reaction(world.channel_id, answer.id, world.member_id, "🤔")
        [event] = [e for e in world.standin.events("MESSAGE_REACTION_ADD") if int(e.data["user_id"]) == world.member_id]
        await world.standin.dispatch("MESSAGE_REACTION_ADD", event.data)
        await world.standin.dispatch("MESSAGE_REACTION_ADD", event.data)
        await eventually(lambda: rows(world, "SELECT count(*), sum(value) FROM ratings") == [(1, 2)], what="one rating")


async def test_export_then_forget_leaves_no_trace(world, run_bot):
    async with run_bot():
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.asker_id, "comments")
        await click(world, answer, world.asker_id, button(answer, "cb:rate:"))
        await world.standin.send_message(
            world.channel_id, world.asker_id, f"<@{world.standin.bot_user_id}> fit: mostly right", reply_to=answer.id
        )
        await eventually(lambda: rows(world, "SELECT count(*) FROM comments") == [(1,)], what="the comment")

        exported = await run(world, world.asker_id, "privacy export")
        followup = await world.standin.wait_for_followup(exported.id)
        [attachment] = followup.attachments
        data = json.loads(attachment.data)
        assert data["questions"][0]["question"] == "How do I address my manager?"
        assert (data["questions"][0]["comparison_id"], data["questions"][0]["arm"]) == (None, None)
        # What forget removes because it describes or identifies the member is in the export too.
        assert "relationship" in data["questions"][0]["cues"]
        assert data["questions"][0]["question_message_id"] is not None and data["questions"][0]["scope_version"] == 1
        assert data["comments"][0]["message_id"] is not None
        assert data["ratings"][0]["value"] == 3 and data["ratings"][0]["previous_value"] is None  # what it replaced
        assert data["comments"][0]["text"] == "mostly right"
        assert data["consents"][0]["level"] == "comments"
        assert str(world.asker_id) not in attachment.data.decode()
        # How the member appears in this server's research data files.
        in_files = export_pseudonym(world.guild_id, data["pseudonym"])
        assert data["research_file_pseudonyms"] == {str(world.guild_id): in_files}

        status = await run(world, world.asker_id, "privacy status")
        assert "1 rating, 0 reason tags, 1 comment, 1 question you asked" in status.response_data["content"]

        [(question_message_id, cues)] = rows(world, "SELECT question_message_id, cues FROM answers")
        assert question_message_id is not None and "relationship" in json.loads(cues)
        summary = await forget(world, world.asker_id)
        assert summary.startswith("Deleted: 1 rating, 1 comment, 1 consent decision, 1 consent record, 1 question.")
        # While the bot runs, too: the WAL's older frames are emptied (they still held the rows).
        for path in (db(world), db(world).with_name(db(world).name + "-wal")):
            data = path.read_bytes() if path.exists() else b""
            assert b"How do I address my manager?" not in data, path.name
            assert b"mostly right" not in data, path.name

    pseudonym = Pseudonymizer(b"k" * 32).member(world.asker_id)
    assert cells_containing(db(world), pseudonym) == []
    assert cells_containing(db(world), world.asker_id) == []
    assert cells_containing(db(world), "How do I address my manager?") == []
    # Nor is it left in the file's free space (secure_delete; the bot checkpoints the WAL as it stops).
    assert b"How do I address my manager?" not in db(world).read_bytes()
    assert b"mostly right" not in db(world).read_bytes()
    assert cells_containing(db(world), question_message_id) == [], "the question's message would name its author"
    [(cues,)] = rows(world, "SELECT cues FROM answers")
    assert rows(world, "SELECT asker_hash = 'forgotten-' || answer_id FROM answers") == [(1,)]
    assert json.loads(cues) == {"language": json.loads(cues)["language"]}, "only the language cue stays"
    assert rows(world, "SELECT count(*) FROM answers") == [(1,)], "the answer itself stays for other raters"


def add_moderator(world) -> int:
    role = world.standin.add_role(world.guild_id, "Moderators", permissions=MANAGE_GUILD)
    return int(world.standin.add_member(world.guild_id, "mod-sari", roles=[role["id"]])["user"]["id"])


async def answered_in_threads(world, moderator: int) -> list[int]:
    """Threads on; the asker asks twice and the other member once, each answered in a thread of its own."""
    await run(world, moderator, "answers settings", {"threads": True})
    for count, (member, text) in enumerate(
        [
            (world.asker_id, "How do I greet my boss?"),
            (world.asker_id, "What about his wife?"),
            (world.member_id, "And my colleague?"),
        ],
        start=1,
    ):
        await world.standin.send_message(world.channel_id, member, world.mention(text))
        await eventually(finished(world, count), what=f"the answer to {text!r}")
    return [thread for (thread,) in rows(world, "SELECT channel_id FROM answers ORDER BY answer_id")]


async def test_forget_renames_the_threads_named_after_the_members_questions(world, run_bot):
    moderator = add_moderator(world)
    world.model.script("Pak.", "Bu.", "Kak.")
    async with run_bot(cooldown=0):
        threads = await answered_in_threads(world, moderator)
        assert [world.standin.state.channel(thread).name for thread in threads] == [
            "How do I greet my boss?",
            "What about his wife?",
            "And my colleague?",
        ]
        await world.standin.update_channel(threads[1], archived=True)  # Discord archived it after a day

        summary = await forget(world, world.asker_id)
        assert summary.endswith("Threads named after your questions renamed: 2 of 2.")
        names = [world.standin.state.channel(thread).name for thread in threads]
        assert names == ["Answer (question removed)", "Answer (question removed)", "And my colleague?"]
        assert world.standin.state.channel(threads[1]).archived, "archived again after the rename"
        # The answers stay in their threads (their messages are there); research data names the channel.
        assert rows(world, "SELECT channel_id, thread_parent_id FROM answers ORDER BY answer_id") == [
            (thread, world.channel_id) for thread in threads
        ]


async def test_members_cannot_change_research_settings(world, run_bot):
    async with run_bot():
        record = await run(world, world.member_id, "research settings", {"retention_days": 30})
        assert (await reply_text(world, record)) == "You need the Manage Server permission to use this command."
        assert rows(world, "SELECT retention_days FROM guild_settings") == [(180,)]


async def test_retention_purge_removes_text_and_keeps_numbers(world, run_bot):
    async with run_bot():
        # The question names an identity, whom the member talks to and where: read into its cues.
        answer = await ask(world, "As a Batak woman at the office, how do I address my manager?")
        [(cues,)] = rows(world, "SELECT cues FROM answers")
        read = json.loads(cues)
        assert read["identifiers"] and read["addressee"] and read["setting"] == "workplace", read
        await give_consent(db(world), world.guild_id, world.member_id, "comments")
        await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        await world.standin.send_message(
            world.channel_id, world.member_id, f"<@{world.standin.bot_user_id}> fit: good", reply_to=answer.id
        )
        await eventually(lambda: rows(world, "SELECT count(*) FROM comments") == [(1,)], what="the comment")
    storage = await SqliteStorage.open(db(world))
    try:
        assert await run_retention(storage, datetime.now(UTC) + timedelta(days=179)) == (0, 0)
        assert await run_retention(storage, datetime.now(UTC) + timedelta(days=181)) == (1, 1)
        assert await run_retention(storage, datetime.now(UTC) + timedelta(days=400)) == (0, 0)
    finally:
        await storage.close()
    assert rows(world, "SELECT question, answer, outcome, tokens_out > 0 FROM answers") == [("", "", "ok", 1)]
    # What was read from the words goes with them, but for what the digests break ratings down by.
    [(cues,)] = rows(world, "SELECT cues FROM answers")
    assert json.loads(cues) == {"language": read["language"], "setting": "workplace"}
    assert rows(world, "SELECT text FROM comments") == [("",)]
    assert rows(world, "SELECT value FROM ratings") == [(3,)]


@pytest.fixture
def moderator_id(world):
    role = world.standin.add_role(world.guild_id, "Moderators", permissions=MANAGE_GUILD)
    return int(world.standin.add_member(world.guild_id, "mod-sari", roles=[role["id"]])["user"]["id"])


async def test_a_comment_keeps_no_discord_id_of_another_member(world, run_bot):
    async with run_bot():
        answer = await ask(world)
        await give_consent(db(world), world.guild_id, world.asker_id, "comments")
        await world.standin.send_message(
            world.channel_id,
            world.asker_id,
            f"<@{world.standin.bot_user_id}> fit: <@{world.member_id}> would say Ibu, not Anda",
            reply_to=answer.id,
        )
        await eventually(lambda: rows(world, "SELECT count(*) FROM comments") == [(1,)], what="the comment")
    assert rows(world, "SELECT text FROM comments") == [("@member would say Ibu, not Anda",)]
    assert cells_containing(db(world), world.member_id) == []


async def test_a_reaction_taken_back_at_once_leaves_no_rating(world, run_bot, monkeypatch):
    await give_consent(db(world), world.guild_id, world.member_id, "ratings")
    async with run_bot():
        answer = await ask(world)
        handled = handled_reactions(monkeypatch)
        for _ in range(5):  # both events reach the bot back to back, each time
            await world.standin.add_reaction(world.channel_id, answer.id, world.member_id, "✅")
            await world.standin.remove_reaction(world.channel_id, answer.id, world.member_id, "✅")
        await eventually(lambda: len(handled) == 10, what="the ten events handled")
        assert [added for _, _, added, _ in handled] == [True, False] * 5, "applied in the order they came"
        assert rows(world, "SELECT rater_hash FROM ratings") == []


LONG_ANSWER = " ".join(["Greet the eldest first, then the hosts, with both hands."] * 60)  # two messages


async def ask_long(world):
    """Ask a question whose scripted answer (LONG_ANSWER) comes as two messages; both, once the controls are on."""
    await world.standin.send_message(world.channel_id, world.asker_id, world.mention("A long one?"))
    await eventually(lambda: rows(world, "SELECT count(*) FROM answer_messages") == [(2,)], what="two messages")
    await eventually(lambda: world.standin.bot_messages(world.channel_id)[-1].components, what="the controls")
    return world.standin.bot_messages(world.channel_id)[-2:]


async def test_a_rating_emoji_left_on_another_message_of_a_long_answer_keeps_the_rating(world, run_bot, monkeypatch):
    await give_consent(db(world), world.guild_id, world.member_id, "ratings")
    world.model.script(LONG_ANSWER)
    async with run_bot():
        first, last = await ask_long(world)
        handled = handled_reactions(monkeypatch)
        for message in (first, last):
            await world.standin.add_reaction(world.channel_id, message.id, world.member_id, "✅")
        await eventually(lambda: len(handled) == 2, what="both reactions handled")
        assert rows(world, "SELECT value FROM ratings") == [(3,)]
        await world.standin.remove_reaction(world.channel_id, last.id, world.member_id, "✅")
        await eventually(lambda: len(handled) == 3, what="the removal handled")
        assert handled[2] == (last.id, world.member_id, False, RatingChange.IGNORED)
        assert rows(world, "SELECT value FROM ratings") == [(3,)], "✅ is still on the first message"
        await world.standin.remove_reaction(world.channel_id, first.id, world.member_id, "✅")
        await eventually(lambda: rows(world, "SELECT value FROM ratings") == [], what="the rating to go")


async def test_a_deleted_part_of_a_long_answer_does_not_hide_the_reactions_on_the_others(world, run_bot, monkeypatch):
    await give_consent(db(world), world.guild_id, world.member_id, "ratings")
    world.model.script(LONG_ANSWER)
    async with run_bot():
        first, last = await ask_long(world)
        handled = handled_reactions(monkeypatch)
        for emoji in ("✅", "🤔"):
            await world.standin.add_reaction(world.channel_id, last.id, world.member_id, emoji)
        await eventually(lambda: len(handled) == 2, what="both reactions handled")
        assert rows(world, "SELECT value FROM ratings") == [(2,)]
        await world.standin.delete_message(world.channel_id, first.id)  # a moderator removes the first part
        # Taking 🤔 back: ✅, still on the part that is left, is the rating again.
        await world.standin.remove_reaction(world.channel_id, last.id, world.member_id, "🤔")
        await eventually(lambda: len(handled) == 3, what="the removal handled")
        assert rows(world, "SELECT value, source FROM ratings") == [(3, "reaction")]


async def test_privacy_status_and_consent_in_direct_messages_say_they_work_in_a_server(world, run_bot):
    async with run_bot():
        dm = world.standin.state.open_dm(world.member_id)
        for name in ("privacy status", "privacy consent"):
            invoked = await world.standin.invoke_command(None, dm.id, world.member_id, name)
            record = await world.standin.wait_for_interaction_response(invoked)
            assert record.response_data["content"] == "This command works in a server, not in direct messages."


async def test_an_expired_forget_confirmation_loses_its_buttons_and_says_so(world, run_bot, monkeypatch):
    async with run_bot():
        # The module the bot loaded its cog from (discord.py loads extensions as new module objects).
        privacy = sys.modules["cogs.privacy"]
        monkeypatch.setattr(privacy, "FORGET_LISTENS", 0.3)
        await ask(world)
        confirm = await run(world, world.asker_id, "privacy forget")
        assert confirm.original.components

        def expired():
            message = world.standin.message(confirm.original.id)
            return message if not message.components else None

        message = await eventually(expired, what="the buttons to go")
        assert message.content == privacy.FORGET_EXPIRED
        assert rows(world, "SELECT count(*) FROM answers WHERE question != ''") == [(1,)], "nothing was deleted"
        # A confirmation answered in time keeps its answer once the time has passed.
        for label in ("Delete everything", "Cancel"):
            asked = await run(world, world.asker_id, "privacy forget")
            await click(world, asked.original, world.asker_id, button_labeled(asked.original, label))

            def clicked(message_id: int = asked.original.id) -> str | None:
                message = world.standin.message(message_id)
                return None if message.components else message.content

            answered = await eventually(clicked, what="the answer to the click")
            await asyncio.sleep(0.8)
            assert world.standin.message(asked.original.id).content == answered != privacy.FORGET_EXPIRED


async def test_privacy_status_before_choosing_says_questions_are_recorded(world, run_bot):
    async with run_bot():
        await ask(world)
        status = await reply_text(world, await run(world, world.asker_id, "privacy status"))
        assert "none of your ratings or comments are kept (questions you ask me are recorded" in status


async def test_a_question_waiting_when_its_member_is_forgotten_is_dropped_not_recorded(world, run_bot):
    from bot.answers.pipeline import FORGOTTEN_LINE

    world.model.script(Reply(" ".join(f"w{i}" for i in range(60)), tokens_per_second=30), "Never asked.")
    async with run_bot(cooldown=0):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("First, slowly?"))
        await eventually(lambda: rows(world, "SELECT outcome FROM answers") == [("streaming",)], what="streaming")
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("My second secret?"))
        await forget(world, world.asker_id)
        await world.standin.wait_for_message(world.channel_id, lambda m: m.content == FORGOTTEN_LINE, timeout=15)
    assert len(world.model.chat_requests) == 1
    assert rows(world, "SELECT asker_hash FROM answers") == [("forgotten-1",)]
    assert cells_containing(db(world), "My second secret?") == []


async def test_a_member_forgotten_while_their_answers_thread_opens_is_not_linked_to_it(world, run_bot):
    """The question was accepted before the forget, but its record is written after the deletion ran: it is
    unlinked as the deletion would have, and its thread (named after the question) renamed."""
    moderator = add_moderator(world)
    world.model.script("Greet him with Pak.")
    async with run_bot(cooldown=0):
        await run(world, moderator, "answers settings", {"threads": True})
        # Discord rate-limits the thread's creation for a while: the member asks to be forgotten meanwhile.
        limited = world.standin.fail_next("POST", r"^/channels/\d+/messages/\d+/threads$", retry_after=1.5)
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("My boss's secret?"))
        await eventually(lambda: limited.hits == 1, what="the thread's creation to be rate-limited")
        await forget(world, world.asker_id)
        assert rows(world, "SELECT count(*) FROM answers") == [(0,)], "deleted before the question was recorded"
        await eventually(finished(world, 1), what="the answer")
        [(thread,)] = rows(world, "SELECT channel_id FROM answers")
        await eventually(
            lambda: world.standin.state.channel(thread).name == "Answer (question removed)", what="the rename"
        )
    assert rows(world, "SELECT asker_hash, question, question_message_id FROM answers") == [("forgotten-1", "", None)]
    assert cells_containing(db(world), "My boss's secret?") == []
    assert world.standin.bot_messages(thread)[-1].content.startswith("Greet him with Pak.")


async def test_a_thread_rename_that_fails_is_tried_again_and_purged_questions_threads_are_renamed(world, run_bot):
    moderator = add_moderator(world)
    world.model.script("Pak.", "Bu.", "Kak.")
    async with run_bot(cooldown=0) as bot:
        threads = await answered_in_threads(world, moderator)

        def names() -> list[str]:
            return [world.standin.state.channel(thread).name for thread in threads]

        # Discord refuses one rename (a permission missing for a while): the thread is kept to try again.
        world.standin.fail_next("PATCH", rf"^/channels/{threads[0]}$", status=403)
        # The other, archived, is renamed but not archived again: renamed all the same (Discord archives it later).
        await world.standin.update_channel(threads[1], archived=True)
        world.standin.fail_next("PATCH", rf"^/channels/{threads[1]}$", status=403, json_match={"archived": True})
        summary = await forget(world, world.asker_id)
        assert summary.endswith("Threads named after your questions renamed: 1 of 2." + RENAME_LATER)
        assert names() == ["How do I greet my boss?", "Answer (question removed)", "And my colleague?"]
        assert not world.standin.state.channel(threads[1]).archived
        assert rows(world, "SELECT thread_id, attempts FROM threads_to_rename") == [(threads[0], 1)]
        await bot.jobs.rename_threads()  # the hourly retry
        assert names() == ["Answer (question removed)", "Answer (question removed)", "And my colleague?"]
        assert rows(world, "SELECT count(*) FROM threads_to_rename") == [(0,)]
        # The retention purge removes the other member's question: its thread's name goes with it.
        await bot.jobs.retention(now=datetime.now(UTC) + timedelta(days=181))
        assert names() == ["Answer (question removed)"] * 3
        assert rows(world, "SELECT count(*) FROM threads_to_rename") == [(0,)]
        assert rows(world, "SELECT count(*) FROM answers WHERE question != ''") == [(0,)]


async def test_a_question_interrupted_by_a_shutdown_after_its_member_was_forgotten_is_not_linked(world, run_bot):
    """The waiting question is recorded as interrupted when the bot stops: after the deletion, so it is unlinked."""
    world.model.script(Reply(" ".join(f"w{i}" for i in range(200)), tokens_per_second=20))
    async with run_bot(cooldown=0, shutdown_grace_seconds=0.2):
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("First, slowly?"))
        await eventually(lambda: rows(world, "SELECT outcome FROM answers") == [("streaming",)], what="streaming")
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("My second secret?"))
        await forget(world, world.asker_id)
        # Stopped while the second question still waits for the first answer.
    assert rows(world, "SELECT asker_hash, question, error FROM answers ORDER BY answer_id") == [
        ("forgotten-1", "", "interrupted by shutdown"),
        ("forgotten-2", "", "the bot was shutting down"),
    ]
    assert cells_containing(db(world), "My second secret?") == []


async def test_reasons_picked_in_a_menu_whose_tags_were_changed_since_save_nothing(world, run_bot):
    await give_consent(db(world), world.guild_id, world.member_id, "ratings")
    moderator = add_moderator(world)
    async with run_bot():
        answer = await ask(world)
        rated = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        menu = next(c for c in custom_ids(rated.original) if c.startswith("cb:reasons:"))
        first = await world.standin.select_option(
            answer.channel_id, rated.original.id, world.member_id, menu, ["too generic"]
        )
        await world.standin.wait_for_interaction_response(first)
        assert rows(world, "SELECT tag FROM rating_reasons") == [("too generic",)]
        await run(world, moderator, "research settings", {"reason_tags": "too formal, too casual"})
        # The member picks again in the menu shown before the change: the old tag is no longer offered.
        again = await world.standin.select_option(
            answer.channel_id, rated.original.id, world.member_id, menu, ["too generic", "misses variation"]
        )
        reply = (await world.standin.wait_for_interaction_response(again)).response_data["content"]
        assert "The reasons offered changed since this menu was shown (too generic, misses variation" in reply
        assert "nothing was saved" in reply
        assert rows(world, "SELECT tag FROM rating_reasons") == [("too generic",)], "the reasons stored stay"


async def test_reason_tags_can_be_switched_off_and_restored_and_a_bad_list_is_named(world, run_bot):
    from bot.storage import DEFAULT_REASON_TAGS

    await give_consent(db(world), world.guild_id, world.member_id, "ratings")
    moderator = add_moderator(world)
    async with run_bot():
        off = await run(world, moderator, "research settings", {"reason_tags": "none"})
        assert "Reason tags: none offered" in off.response_data["content"]
        assert rows(world, "SELECT reason_tags FROM guild_settings") == [("[]",)]
        answer = await ask(world)
        rated = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        assert not [c for c in custom_ids(rated.original) if c.startswith("cb:reasons:")], "no reasons menu"
        assert "Pick any reasons" not in rated.response_data["content"]
        # A member whose choice keeps comments is offered a comment, and no reasons there are none of.
        await give_consent(db(world), world.guild_id, world.asker_id, "comments")
        commented = await click(world, answer, world.asker_id, button(answer, "cb:rate:"))
        assert commented.response_data["content"].endswith("Why? Add a comment (optional).")
        assert [c for c in custom_ids(commented.original) if c.startswith("cb:comment:")]

        await run(world, moderator, "research settings", {"reason_tags": "Default"})
        assert rows(world, "SELECT reason_tags FROM guild_settings") == [(json.dumps(list(DEFAULT_REASON_TAGS)),)]

        too_many = await run(
            world, moderator, "research settings", {"reason_tags": ", ".join(f"t{n}" for n in range(30))}
        )
        assert too_many.response_data["content"].startswith("30 reason tags given; at most 25"), too_many.response_data
        too_long = await run(world, moderator, "research settings", {"reason_tags": "ok, " + "x" * 120})
        assert "has 120 characters; each can have at most 100" in too_long.response_data["content"]
        assert rows(world, "SELECT reason_tags FROM guild_settings") == [(json.dumps(list(DEFAULT_REASON_TAGS)),)]


async def test_a_reply_comment_not_kept_names_no_members_choice_in_public(world, run_bot):
    """Members who have not chosen, who agreed to ratings only, and who declined get one and the same public line
    (the channel must not learn anyone's research choice); nothing is stored."""
    from bot.feedback.views import DECLINED_REPLY, RATINGS_ONLY_REPLY
    from cogs.feedback import REPLY_NOT_KEPT

    unsure = int(world.standin.add_member(world.guild_id, "unsure")["user"]["id"])
    ratings_only = int(world.standin.add_member(world.guild_id, "ratings-only")["user"]["id"])
    await give_consent(db(world), world.guild_id, ratings_only, "ratings")
    await give_consent(db(world), world.guild_id, world.member_id, "declined")
    async with run_bot():
        answer = await ask(world)
        replies = []
        for member in (unsure, ratings_only, world.member_id):
            comment = await world.standin.send_message(
                world.channel_id, member, f"<@{world.standin.bot_user_id}> fit: too formal", reply_to=answer.id
            )

            def reply_to_comment(comment_id=int(comment["id"])):
                return next(
                    (
                        m
                        for m in world.standin.bot_messages(world.channel_id)
                        if (m.message_reference or {}).get("message_id") in (comment_id, str(comment_id))
                    ),
                    None,
                )

            replies.append(await eventually(reply_to_comment, what="the reply to the comment"))
        assert [reply.content for reply in replies] == [REPLY_NOT_KEPT] * 3
        assert rows(world, "SELECT count(*) FROM comments") == [(0,)]
        # Each reply carries the same Comment button for its answer (the channel learns nothing from it), which
        # answers each member privately, as the one under the answer does.
        assert [custom_ids(reply) for reply in replies] == [[button(answer, "cb:comment:")]] * 3
        notice = await click(world, replies[0], unsure, button(replies[0], "cb:comment:"))
        assert notice.ephemeral and "Your rating is research data" in notice.response_data["content"]
        opened = await click(world, notice.original, unsure, button(notice.original, "cb:consent:comments:"))
        assert opened.modal is not None and opened.modal["title"] == "Comment on this answer"
        refused = await click(world, replies[1], ratings_only, button(replies[1], "cb:comment:"))
        assert refused.ephemeral and refused.response_data["content"] == RATINGS_ONLY_REPLY
        declined = await click(world, replies[2], world.member_id, button(replies[2], "cb:comment:"))
        assert declined.ephemeral and declined.response_data["content"] == DECLINED_REPLY


async def test_a_reply_comment_follows_its_message_edited_or_deleted(world, run_bot):
    """A member who edits their "fit: ..." reply changes the stored comment; taking the prefix away, or deleting
    the message (alone or in a bulk deletion), takes the comment back."""
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    bot_user = world.standin.bot_user_id

    async def comment(text):
        before = rows(world, "SELECT count(*) FROM comments")[0][0]
        sent = await world.standin.send_message(
            world.channel_id, world.member_id, f"<@{bot_user}> fit: {text}", reply_to=answer.id
        )
        await eventually(lambda: rows(world, "SELECT count(*) FROM comments")[0][0] == before + 1, what="the comment")
        return int(sent["id"])

    def texts():
        return [text for (text,) in rows(world, "SELECT text FROM comments ORDER BY comment_id")]

    async with run_bot():
        answer = await ask(world)
        first = await comment("too formal")
        await world.standin.edit_message(world.channel_id, first, f"<@{bot_user}> fit: too formal for a first meeting")
        await eventually(lambda: texts() == ["too formal for a first meeting"], what="the edited comment")
        await world.standin.edit_message(world.channel_id, first, "never mind")
        await eventually(lambda: texts() == [], what="the comment taken back by removing the prefix")

        second = await comment("misses Batak usage")
        await world.standin.delete_message(world.channel_id, second)
        await eventually(lambda: texts() == [], what="the comment deleted with its message")

        third, fourth = await comment("one"), await comment("two")
        core = world.standin.core
        for message_id in (third, fourth):
            core.state.delete_message(core.state.messages[message_id])
        await core.dispatch(
            "MESSAGE_DELETE_BULK",
            {"ids": [str(third), str(fourth)], "channel_id": str(world.channel_id), "guild_id": str(world.guild_id)},
        )
        await eventually(lambda: texts() == [], what="the comments deleted in bulk")


async def test_an_edit_or_deletion_while_the_comment_is_stored_is_not_lost(world, run_bot, monkeypatch):
    """The edit and the deletion wait for the comment's store (a busy database makes it slow): the stored text is
    the edited one, and a comment whose message went meanwhile does not stay. An edit made while the member's
    consent is to an older notice keeps the text they agreed to share."""
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    bot_user = world.standin.bot_user_id
    async with run_bot() as bot:
        answer = await ask(world)
        add_comment = bot.storage.add_comment

        async def slow_add_comment(*args, **kwargs):
            await asyncio.sleep(0.5)  # the database busy with a digest's reads, say
            return await add_comment(*args, **kwargs)

        monkeypatch.setattr(bot.storage, "add_comment", slow_add_comment)

        def texts():
            return [text for (text,) in rows(world, "SELECT text FROM comments ORDER BY comment_id")]

        sent = await world.standin.send_message(
            world.channel_id, world.member_id, f"<@{bot_user}> fit: too formal", reply_to=answer.id
        )
        await asyncio.sleep(0.1)
        await world.standin.edit_message(world.channel_id, int(sent["id"]), f"<@{bot_user}> fit: too stiff")
        await eventually(lambda: texts() == ["too stiff"], what="the edit made while the comment was stored")

        gone = await world.standin.send_message(
            world.channel_id, world.member_id, f"<@{bot_user}> fit: oops, private", reply_to=answer.id
        )
        await asyncio.sleep(0.1)
        await world.standin.delete_message(world.channel_id, int(gone["id"]))
        await asyncio.sleep(1.0)
        assert texts() == ["too stiff"], "the deleted message's comment is not kept"

        # A new notice: the member has not agreed to it yet, so an edit keeps what they shared before.
        monkeypatch.setattr(bot.storage, "add_comment", add_comment)
        with sqlite3.connect(db(world)) as conn:
            conn.execute("UPDATE consents SET consent_version = 'an older notice'")
        await world.standin.edit_message(world.channel_id, int(sent["id"]), f"<@{bot_user}> fit: new words")
        await asyncio.sleep(0.5)
        assert texts() == ["too stiff"]


async def test_the_bots_own_streaming_edits_read_no_comments(world, run_bot, monkeypatch):
    async with run_bot() as bot:
        calls = []
        for name in ("delete_comments_of_messages", "replace_comment_text"):
            method = getattr(bot.storage, name)

            async def counted(*args, _method=method, _name=name, **kwargs):
                calls.append(_name)
                return await _method(*args, **kwargs)

            monkeypatch.setattr(bot.storage, name, counted)
        world.model.script(Reply(" ".join(f"w{i}" for i in range(60)), tokens_per_second=40))
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("A slow one?"))
        await eventually(
            lambda: rows(world, "SELECT count(*) FROM answers WHERE outcome = 'ok'") == [(1,)], 15, "the answer"
        )
        [message] = world.standin.bot_messages(world.channel_id)
        assert world.standin.message(message.id).edits, "it was streamed in edits"
        assert calls == []


@pytest.mark.parametrize(("level", "offered"), [("ratings", False), ("comments", True)])
async def test_the_thanks_for_a_rating_offers_a_comment_only_when_comments_are_kept(world, run_bot, level, offered):
    """A member who chose ratings only was invited to comment, then refused when they clicked."""
    await give_consent(db(world), world.guild_id, world.member_id, level)
    async with run_bot(cooldown=0):
        answer = await ask(world)
        thanks = await click(world, answer, world.member_id, button(answer, "cb:rate:"))
        followup = thanks.original
        assert followup is not None and followup.content.startswith("Thanks: you rated this answer")
        assert any(c.startswith("cb:comment:") for c in custom_ids(followup)) is offered
        assert ("add a comment" in followup.content) is offered
