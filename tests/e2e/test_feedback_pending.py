"""Rating reactions a member adds before choosing whether to take part: every one waits for their choice.

The consent note names one reaction (the first); the member may react to other answers before they choose, while
the note's cooldown keeps the bot from asking again. Those are kept pending too (in memory, nothing stored), and
stored as the reactions show them once the member agrees, whichever notice they agree on; a refusal drops them.
"""

from __future__ import annotations

import asyncio

from bot.feedback.ratings import RatingChange
from bot.pseudonyms import Pseudonymizer
from bot.sandbox.discord.faults import DROP
from tests.e2e.test_consent_integrity import answer_id_of, choice, reaction_note
from tests.e2e.test_feedback import ask, button, choose, click, forget, handled_reactions, rows
from tests.e2e.test_scope_commands import run
from tests.helpers import eventually

RATINGS = "SELECT answer_id, value, source FROM ratings WHERE rater_hash = ? ORDER BY answer_id"


def member_hash(user_id):
    return Pseudonymizer(b"k" * 32).member(user_id)


def ratings_of(world, user_id):
    return rows(world, RATINGS, (member_hash(user_id),))


def pause_after_consent_is_stored(bot, monkeypatch):
    """Make storing a member's choice stop once it is committed: (set once committed, set it to go on)."""
    committed, go_on = asyncio.Event(), asyncio.Event()
    set_consent = bot.storage.set_consent

    async def set_consent_then_wait(*args, **kwargs):
        changed = await set_consent(*args, **kwargs)
        committed.set()
        await go_on.wait()
        return changed

    monkeypatch.setattr(bot.storage, "set_consent", set_consent_then_wait)
    return committed, go_on


def notes_for(world, user_id):
    return [
        m
        for m in world.standin.bot_messages(world.channel_id)
        if "thanks for rating" in m.content and m.mentions == [user_id]
    ]


async def choose_in_privacy_consent(world, member: int, level: str) -> None:
    """The member opens `/privacy consent` and clicks `level` in the notice."""
    notice = await run(world, member, "privacy consent")
    await choose(world, notice.original, member, choice(notice.original, level))


async def test_reactions_on_other_answers_before_agreeing_are_stored_once_the_member_agrees(
    world, run_bot, monkeypatch, caplog
):
    budi, ayu = world.member_id, world.asker_id
    async with run_bot(cooldown=0):
        answers = [await ask(world, f"Question {n}?") for n in range(5)]
        ids = [answer_id_of(answer) for answer in answers]
        handled = handled_reactions(monkeypatch)

        def reacted(user_id, count):
            return lambda: len([h for h in handled if h[1] == user_id]) == count

        note = await reaction_note(world, answers[0], budi, "❌")  # the note names this one
        # During the note's cooldown: ✅ on the second answer; 🤔 on the third, taken back; ✅ then ❌ on the fourth,
        # ✅ taken back; ✅ on the fifth, whose reactions cannot be read again when budi agrees.
        reactions = [
            (answers[1], "✅", True),
            (answers[2], "🤔", True),
            (answers[2], "🤔", False),
            (answers[3], "✅", True),
            (answers[3], "❌", True),
            (answers[3], "✅", False),
            (answers[4], "✅", True),
        ]
        for answer, emoji, added in reactions:
            act = world.standin.add_reaction if added else world.standin.remove_reaction
            await act(world.channel_id, answer.id, budi, emoji)
        await eventually(reacted(budi, 1 + len(reactions)), what="budi's reactions handled")
        assert [h[3] for h in handled if h[2]] == [RatingChange.NEEDS_CONSENT] * 6
        assert len(notes_for(world, budi)) == 1, "asked once"
        assert rows(world, "SELECT * FROM ratings") == []

        world.standin.fail_next("GET", rf"^/channels/\d+/messages/{answers[4].id}$", status=403)
        caplog.set_level("WARNING", logger="bot.feedback.catch_up")
        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        chosen = await click(world, theirs.original, budi, choice(theirs.original, "ratings"))
        thanks = await world.standin.wait_for_followup(chosen.id)
        assert "you rated this answer **Does not fit**" in thanks.content  # the note's own, as before
        expected = [(ids[0], 1, "reaction"), (ids[1], 3, "reaction"), (ids[3], 1, "reaction"), (ids[4], 3, "reaction")]
        await eventually(lambda: ratings_of(world, budi) == expected, what="budi's other reactions stored")
        assert "could not read the member's reactions again" in caplog.text  # the fifth: stored as noted

        # They are reaction ratings like any other: taking the reaction back removes the rating.
        await world.standin.remove_reaction(world.channel_id, answers[1].id, budi, "✅")
        await eventually(lambda: ids[1] not in [a for a, _, _ in ratings_of(world, budi)], what="the rating to go")

        # Agreeing with /privacy consent instead of the note stores every reaction, the note's one included.
        await reaction_note(world, answers[1], ayu, "🤔")
        await world.standin.add_reaction(world.channel_id, answers[2].id, ayu, "✅")
        await eventually(reacted(ayu, 2), what="ayu's reactions handled")
        await choose_in_privacy_consent(world, ayu, "comments")
        await eventually(
            lambda: ratings_of(world, ayu) == [(ids[1], 2, "reaction"), (ids[2], 3, "reaction")],
            what="ayu's reactions stored",
        )


async def three_waiting_reactions(world, member, monkeypatch):
    """Three answers; the member, who has not chosen, reacts ❌, ✅ and 🤔 on them (the first brings the consent
    note): the answers, their ids and the note, once the three reactions are handled."""
    answers = [await ask(world, f"Question {n}?") for n in range(3)]
    handled = handled_reactions(monkeypatch)
    note = await reaction_note(world, answers[0], member, "❌")
    await world.standin.add_reaction(world.channel_id, answers[1].id, member, "✅")
    await world.standin.add_reaction(world.channel_id, answers[2].id, member, "🤔")
    await eventually(lambda: len([h for h in handled if h[1] == member]) == 3, what="the reactions handled")
    return answers, [answer_id_of(answer) for answer in answers], note


async def test_a_dropped_connection_while_reading_one_answer_loses_none_of_the_waiting_ratings(
    world, run_bot, monkeypatch
):
    """Discord not reached while the member's reactions on the second of three answers are read again (discord.py
    retries no dropped connection): that one is stored as noted, and the third is still read and stored. The
    error escaped, and the third answer's rating, taken out of memory, was lost after 'Saved your choice'."""
    budi = world.member_id
    async with run_bot(cooldown=0):
        answers, ids, note = await three_waiting_reactions(world, budi, monkeypatch)
        # Twice: aiohttp tries an idempotent request once more on a new connection when a kept-alive one drops.
        dropped = world.standin.fail_next("GET", rf"^/channels/\d+/messages/{answers[1].id}$", status=DROP, count=2)
        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        await click(world, theirs.original, budi, choice(theirs.original, "ratings"))
        expected = [(ids[0], 1, "reaction"), (ids[1], 3, "reaction"), (ids[2], 2, "reaction")]
        await eventually(lambda: ratings_of(world, budi) == expected, what="every waiting rating stored")
        assert dropped.hits == 2, "the connection was dropped, and again when tried again"


async def test_reactions_before_a_refusal_are_dropped_and_a_later_agreement_does_not_bring_them_back(
    world, run_bot, monkeypatch
):
    budi, ayu = world.member_id, world.asker_id
    async with run_bot(cooldown=0):
        answers = [await ask(world, f"Question {n}?") for n in range(3)]
        ids = [answer_id_of(answer) for answer in answers]
        handled = handled_reactions(monkeypatch)
        note = await reaction_note(world, answers[0], budi, "❌")
        await world.standin.add_reaction(world.channel_id, answers[1].id, budi, "✅")
        await world.standin.add_reaction(world.channel_id, answers[1].id, ayu, "🤔")  # ayu has not chosen either
        await eventually(lambda: len(handled) == 3, what="the reactions handled")
        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        declined = await choose(world, theirs.original, budi, choice(theirs.original, "declined"))
        assert "I won't ask again" in declined.original.content

        # Changing their mind later stores what budi gives from then on, not what they gave before refusing.
        for member in (budi, ayu):
            await choose_in_privacy_consent(world, member, "ratings")
        await eventually(lambda: rows(world, "SELECT count(*) FROM consents") == [(2,)], what="both agreements")
        await world.standin.add_reaction(world.channel_id, answers[2].id, budi, "🤔")
        # Applied in budi's turn, after anything their agreement started: once it is stored, all else is done.
        await eventually(lambda: ratings_of(world, budi) != [], what="budi's new reaction's rating")
        assert ratings_of(world, budi) == [(ids[2], 2, "reaction")]
        # ayu, who agreed without refusing first, has the reaction she gave before stored.
        await eventually(lambda: ratings_of(world, ayu) == [(ids[1], 2, "reaction")], what="ayu's earlier reaction")


async def test_reactions_before_privacy_forget_are_dropped(world, run_bot, monkeypatch):
    budi = world.member_id
    async with run_bot(cooldown=0):
        answers = [await ask(world, f"Question {n}?") for n in range(3)]
        ids = [answer_id_of(answer) for answer in answers]
        handled = handled_reactions(monkeypatch)
        await reaction_note(world, answers[0], budi, "❌")
        await world.standin.add_reaction(world.channel_id, answers[1].id, budi, "✅")
        await eventually(lambda: len(handled) == 2, what="the reactions handled")
        assert (await forget(world, budi)).startswith("There was nothing stored about you")

        # Agreeing afterwards keeps what budi gives from then on, not what they gave before asking to be forgotten.
        await choose_in_privacy_consent(world, budi, "ratings")
        await eventually(lambda: rows(world, "SELECT count(*) FROM consents") == [(1,)], what="the agreement")
        await world.standin.add_reaction(world.channel_id, answers[2].id, budi, "🤔")
        await eventually(lambda: ratings_of(world, budi) != [], what="budi's new reaction's rating")
        assert ratings_of(world, budi) == [(ids[2], 2, "reaction")]


async def test_the_reactions_of_a_member_who_never_chooses_are_forgotten_without_anyone_reacting_again(world, run_bot):
    budi = world.member_id
    async with run_bot() as bot:
        answer = await ask(world)
        await reaction_note(world, answer, budi, "❌")
        cog = bot.get_cog("Feedback")
        pending, loop = cog._pending, cog.prune_pending
        await eventually(lambda: len(pending) == 1, what="budi's reaction waiting")
        assert loop.is_running() and loop.seconds == 3600, "the cog prunes them every hour"
        # A day (here a moment) later, with nobody reacting since, the next prune forgets them.
        pending.keep_for = 0.05
        loop.change_interval(seconds=0.05)
        loop.restart()
        await eventually(lambda: len(pending) == 0, what="budi's expired reaction forgotten")
    assert not loop.is_running(), "stopped with the cog"


async def test_agreeing_through_the_note_stores_the_newest_rating_reaction_on_its_answer(world, run_bot, monkeypatch):
    budi = world.member_id
    async with run_bot(cooldown=0):
        answers = [await ask(world, f"Question {n}?") for n in range(2)]
        ids = [answer_id_of(answer) for answer in answers]
        handled = handled_reactions(monkeypatch)
        note = await reaction_note(world, answers[0], budi, "✅")  # the note carries ✅
        # During the note's cooldown budi adds 🤔 to the same answer, keeping ✅: live, 🤔 would be the rating.
        # On the second answer, 🤔 added after ✅ is taken back: ✅ is the rating again.
        await world.standin.add_reaction(world.channel_id, answers[0].id, budi, "🤔")
        await world.standin.add_reaction(world.channel_id, answers[1].id, budi, "✅")
        await world.standin.add_reaction(world.channel_id, answers[1].id, budi, "🤔")
        await world.standin.remove_reaction(world.channel_id, answers[1].id, budi, "🤔")
        await eventually(lambda: len(handled) == 5, what="budi's reactions handled")
        assert rows(world, "SELECT * FROM ratings") == []

        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        chosen = await click(world, theirs.original, budi, choice(theirs.original, "ratings"))
        thanks = await world.standin.wait_for_followup(chosen.id)
        assert "you rated this answer **Partly fits**" in thanks.content, "the rating stored, not the note's"
        expected = [(ids[0], 2, "reaction"), (ids[1], 3, "reaction")]
        await eventually(lambda: ratings_of(world, budi) == expected, what="budi's ratings stored")


async def test_a_reaction_on_an_answer_deleted_before_the_member_agrees_is_not_stored(world, run_bot, monkeypatch):
    budi = world.member_id
    async with run_bot(cooldown=0):
        answers, ids, note = await three_waiting_reactions(world, budi, monkeypatch)
        # The second answer's message is deleted (its reactions with it) while budi's reaction waits: Discord
        # answers 404 when it is read again, and there is no reaction left to store.
        await world.standin.delete_message(world.channel_id, answers[1].id)

        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        await click(world, theirs.original, budi, choice(theirs.original, "ratings"))
        expected = [(ids[0], 1, "reaction"), (ids[2], 2, "reaction")]
        # Stored in the order budi reacted: once the third answer's is, the second's was passed over.
        await eventually(lambda: ratings_of(world, budi) == expected, what="budi's remaining reactions stored")


async def test_agreeing_through_the_note_after_its_answer_was_deleted_stores_no_rating(world, run_bot):
    budi = world.member_id
    async with run_bot():
        answer = await ask(world)
        note = await reaction_note(world, answer, budi, "❌")
        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        # A moderator deletes the answer's message, and budi's reaction with it, before budi agrees.
        await world.standin.delete_message(world.channel_id, answer.id)
        await click(world, theirs.original, budi, choice(theirs.original, "ratings"))
        summary = await eventually(
            lambda: (m := world.standin.message(theirs.original.id)).content.startswith("Saved your choice") and m,
            what="the choice saved",
        )
        assert rows(world, "SELECT * FROM ratings") == [], "no rating for a reaction that is gone"
        assert rows(world, "SELECT level FROM consents") == [("ratings",)]
        assert summary.content == (
            "Saved your choice: **ratings only**. "
            "That answer's message was deleted, and your reaction with it, so no rating was stored."
        )


async def test_a_reaction_while_the_note_s_agreement_is_stored_is_not_overwritten_by_the_older_one(
    world, run_bot, monkeypatch
):
    budi = world.member_id
    async with run_bot() as bot:
        answer = await ask(world)
        note = await reaction_note(world, answer, budi, "❌")
        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        handled = handled_reactions(monkeypatch)
        # Who asked for a member's turn in the Feedback cog (the consent button, a reaction), in order.
        members, arrivals = bot.get_cog("Feedback")._members, []
        hold = members.hold

        def counted_hold(key):
            arrivals.append(key)
            return hold(key)

        monkeypatch.setattr(members, "hold", counted_hold)
        # Storing budi's choice stops once it is committed, until the test lets it go on.
        committed, go_on = pause_after_consent_is_stored(bot, monkeypatch)
        message = theirs.original
        clicked = await world.standin.click_button(message.channel_id, message.id, budi, choice(message, "ratings"))
        await asyncio.wait_for(committed.wait(), 5)
        # Right then budi adds ✅, keeping ❌: live, ✅ is their rating. It is handled at once (stored live under the
        # choice just committed), or waits for budi's turn, which the consent button holds.
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: handled or arrivals.count(budi) == 2, what="the reaction handled, or waiting")
        go_on.set()

        chosen = await world.standin.wait_for_interaction_response(clicked)
        await world.standin.wait_for_followup(chosen.id)  # the thanks: the consent button is done
        await eventually(lambda: handled, what="the reaction handled")
        assert handled == [(answer.id, budi, True, RatingChange.STORED)]
        assert ratings_of(world, budi) == [(answer_id_of(answer), 3, "reaction")], "✅, the newest, is the rating"


async def test_a_reaction_stored_live_before_the_waiting_ones_are_stored_is_not_overwritten_by_them(
    world, run_bot, monkeypatch, caplog
):
    budi = world.member_id
    async with run_bot(cooldown=0) as bot:
        answers = [await ask(world, f"Question {n}?") for n in range(3)]
        ids = [answer_id_of(answer) for answer in answers]
        handled = handled_reactions(monkeypatch)
        await reaction_note(world, answers[0], budi, "❌")
        await world.standin.add_reaction(world.channel_id, answers[1].id, budi, "❌")
        await world.standin.add_reaction(world.channel_id, answers[2].id, budi, "🤔")
        await eventually(lambda: len(handled) == 3, what="budi's reactions handled")
        # Storing budi's choice (with /privacy consent: the notice carries no rating) stops once it is committed.
        committed, go_on = pause_after_consent_is_stored(bot, monkeypatch)
        caplog.set_level("INFO", logger="cogs.feedback")
        notice = await run(world, budi, "privacy consent")
        message = notice.original
        clicked = await world.standin.click_button(message.channel_id, message.id, budi, choice(message, "ratings"))
        await asyncio.wait_for(committed.wait(), 5)
        # Right then budi adds ✅ on the second answer, keeping ❌: stored live, under the choice just committed.
        await world.standin.add_reaction(world.channel_id, answers[1].id, budi, "✅")
        await eventually(lambda: len(handled) == 4, what="the reaction handled")
        assert handled[-1] == (answers[1].id, budi, True, RatingChange.STORED)
        go_on.set()

        await world.standin.wait_for_interaction_response(clicked)
        await eventually(lambda: "added before agreeing" in caplog.text, what="the waiting reactions stored")
        assert ratings_of(world, budi) == [(ids[0], 1, "reaction"), (ids[1], 3, "reaction"), (ids[2], 2, "reaction")]


async def test_a_reaction_from_before_privacy_forget_is_not_stored_when_a_newer_one_is_taken_back(
    world, run_bot, monkeypatch
):
    """Budi's ❌ was forgotten, but stays on Discord. When they take back the ✅ they gave after agreeing again, their
    one other rating reaction used to become the rating: the forgotten ❌ came back into the research data."""
    budi = world.member_id
    async with run_bot(cooldown=0):
        answer = await ask(world, "Question?")
        handled = handled_reactions(monkeypatch)
        await choose_in_privacy_consent(world, budi, "ratings")
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "❌")
        await eventually(lambda: ratings_of(world, budi) != [], what="the ❌ rating")
        await forget(world, budi)
        assert ratings_of(world, budi) == []
        await choose_in_privacy_consent(world, budi, "ratings")
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: ratings_of(world, budi) == [(answer_id_of(answer), 3, "reaction")], what="✅")
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: len(handled) == 3, what="the removal handled")
        await asyncio.sleep(0.2)
        assert ratings_of(world, budi) == [], "the ✅ taken back is deleted and the forgotten ❌ is not stored"


async def test_a_reaction_taken_back_before_choosing_is_not_stored_when_its_answer_cannot_be_read_again(
    world, run_bot, monkeypatch
):
    """Budi reacts ✅ on a second answer before choosing and takes it back. Agreeing reads their reactions again;
    when Discord refuses that read (403), the value noted when they reacted was stored, though the bot had seen it
    taken back."""
    budi = world.member_id
    async with run_bot(cooldown=0):
        answers = [await ask(world, f"Question {n}?") for n in range(2)]
        handled = handled_reactions(monkeypatch)
        note = await reaction_note(world, answers[0], budi, "❌")
        await world.standin.add_reaction(world.channel_id, answers[1].id, budi, "✅")
        await world.standin.remove_reaction(world.channel_id, answers[1].id, budi, "✅")
        await eventually(lambda: len(handled) == 3, what="budi's reactions handled")
        world.standin.fail_next("GET", rf"^/channels/\d+/messages/{answers[1].id}$", status=403)
        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        await click(world, theirs.original, budi, choice(theirs.original, "ratings"))
        await eventually(lambda: ratings_of(world, budi) != [], what="the note's rating")
        await asyncio.sleep(0.3)
        assert ratings_of(world, budi) == [(answer_id_of(answers[0]), 1, "reaction")]


async def test_a_rating_changed_before_agreeing_goes_back_to_the_earlier_one_when_taken_back(
    world, run_bot, monkeypatch
):
    """🤔 then ❌ before choosing, agree (❌ is stored), take ❌ back: 🤔, still shown and added while waiting for
    the choice, is the rating again, as for a member who had agreed before. The rating stored at agreement did not
    know what it replaced, and taking ❌ back deleted it."""
    budi = world.member_id
    async with run_bot(cooldown=0):
        answer = await ask(world)
        handled = handled_reactions(monkeypatch)
        note = await reaction_note(world, answer, budi, "🤔")
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "❌")
        await eventually(lambda: len(handled) == 2, what="both handled")
        theirs = await click(world, note, budi, button(note, "cb:ask:"))
        await click(world, theirs.original, budi, choice(theirs.original, "ratings"))
        await eventually(lambda: ratings_of(world, budi) == [(answer_id_of(answer), 1, "reaction")], what="❌ stored")
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "❌")
        await eventually(lambda: len(handled) == 3, what="the removal handled")
        await eventually(lambda: ratings_of(world, budi) == [(answer_id_of(answer), 2, "reaction")], what="🤔 again")


async def test_an_emoji_taken_back_from_one_part_of_a_long_answer_but_still_on_another_is_stored(
    world, run_bot, monkeypatch
):
    """✅ on both messages of a long answer before choosing, then taken back from one: the ✅ still shown was
    dropped from the waiting reactions, and never stored when the member agreed."""
    from tests.e2e.test_feedback import LONG_ANSWER, ask_long

    budi = world.member_id
    async with run_bot(cooldown=0):
        short = await ask(world, "Short one?")
        world.model.script(LONG_ANSWER)
        first, last = await ask_long(world)
        handled = handled_reactions(monkeypatch)
        await reaction_note(world, short, budi, "❌")
        for message in (first, last):
            await world.standin.add_reaction(world.channel_id, message.id, budi, "✅")
        await world.standin.remove_reaction(world.channel_id, last.id, budi, "✅")
        await eventually(lambda: len(handled) == 4, what="budi's reactions handled")
        await choose_in_privacy_consent(world, budi, "ratings")
        long_id = answer_id_of(last)  # the controls are under the last part
        expected = sorted([(answer_id_of(short), 1, "reaction"), (long_id, 3, "reaction")])
        await eventually(lambda: ratings_of(world, budi) == expected, what="both ratings stored")
