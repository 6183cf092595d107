"""A moderator's "Remove all reactions" waits for the member reactions already being handled on that answer
(bot/feedback/catch_up.py `ReactionGate.passing`): a rating whose reaction was just removed is not kept."""

from __future__ import annotations

import asyncio

from tests.e2e.test_feedback import ask, db
from tests.e2e.test_reaction_catch_up import member_hash, ratings
from tests.helpers import eventually, give_consent


async def test_a_rating_being_stored_when_a_moderator_removes_all_reactions_goes_with_them(world, run_bot, caplog):
    budi = world.member_id
    await give_consent(db(world), world.guild_id, budi, "ratings")
    caplog.set_level("INFO", logger="cogs.feedback")
    async with run_bot():
        first = await ask(world, "How do I address my manager?")
        second = await ask(world, "How do I greet my aunt at Lebaran?")
        await world.standin.add_reaction(world.channel_id, first.id, budi, "✅")
        await eventually(lambda: len(ratings(world)) == 1, what="the first rating")

        # Budi takes back ✅: the bot reads which rating reactions Budi still shows on the first answer, and Discord
        # makes it wait (a rate limit). Budi's reactions are handled one at a time, so his 🤔 on the second answer,
        # which has passed the gate, waits for that removal before its rating is stored.
        limited = world.standin.fail_next("GET", rf"^/channels/\d+/messages/{first.id}$", status=429, retry_after=1.5)
        await world.standin.remove_reaction(world.channel_id, first.id, budi, "✅")
        await eventually(lambda: limited.hits == 1, what="the rate-limited read")
        await world.standin.add_reaction(world.channel_id, second.id, budi, "🤔")
        await asyncio.sleep(0.2)  # the event reaches the bot and waits for Budi's turn
        # Meanwhile a moderator removes every reaction from the second answer, Budi's 🤔 with them.
        await world.standin.core.clear_reactions(world.standin.message(second.id))

        await eventually(lambda: "reactions removed by a moderator" in caplog.text, what="the reconciliation")
        await asyncio.sleep(0.3)  # anything still pending would be stored by now
        assert ratings(world) == set(), "the 🤔 rating stayed though a moderator removed its reaction"
        assert "reactions removed by a moderator; 1 rating(s) removed" in caplog.text
        # Budi's next reaction counts as usual.
        await world.standin.add_reaction(world.channel_id, second.id, budi, "❌")
        await eventually(
            lambda: ratings(world) == {("How do I greet my aunt at Lebaran?", member_hash(budi), 1, "reaction")},
            what="the new rating",
        )


async def test_clears_on_many_answers_during_a_burst_of_reactions_do_not_stall_reaction_handling(
    world, run_bot, caplog
):
    """A clear took one of the eight reaction slots and then waited for the events in flight on its answer, which
    wait for a slot themselves: with every slot held by clears so, nothing moved again, in any server."""
    from cogs.feedback import REACTION_CONCURRENCY

    answers_cleared = REACTION_CONCURRENCY + 2
    members = [
        int(world.standin.add_member(world.guild_id, f"m{i}")["user"]["id"])
        for i in range(REACTION_CONCURRENCY + answers_cleared + 1)
    ]
    for member in members:
        await give_consent(db(world), world.guild_id, member, "ratings")
    blockers = members[:REACTION_CONCURRENCY]
    reactors, late = members[REACTION_CONCURRENCY:-1], members[-1]
    caplog.set_level("INFO", logger="cogs.feedback")
    async with run_bot(cooldown=0) as bot:
        filler = await ask(world, "Filler question?")
        answers = [await ask(world, f"Question number {i}?") for i in range(answers_cleared)]
        for member in blockers:
            await world.standin.add_reaction(world.channel_id, filler.id, member, "✅")
        await eventually(lambda: len(ratings(world)) == len(blockers), what="the filler's ratings")
        # Each removal reads the member's other reactions, and Discord answers slowly: every slot is held.
        world.standin.answer_late("GET", rf"/channels/\d+/messages/{filler.id}$", 0.5, count=len(blockers))
        for member in blockers:
            await world.standin.remove_reaction(world.channel_id, filler.id, member, "✅")
        cog = bot.get_cog("Feedback")
        await eventually(lambda: cog._reactions.locked(), what="every slot held")
        for answer in answers:  # a moderator clears every reaction on the answers...
            await world.standin.core.clear_reactions(world.standin.message(answer.id))
        await asyncio.sleep(0.2)
        for answer, member in zip(answers, reactors, strict=True):  # ...while members react on them
            await world.standin.add_reaction(world.channel_id, answer.id, member, "🤔")
        await eventually(
            lambda: caplog.text.count("reactions removed by a moderator") == answers_cleared,
            timeout=10,
            what="every clear reconciled",
        )
        await eventually(lambda: len(ratings(world)) == answers_cleared, what="the members' new ratings")
        await world.standin.add_reaction(world.channel_id, filler.id, late, "❌")
        later = ("Filler question?", member_hash(late), 1, "reaction")
        await eventually(lambda: later in ratings(world), what="a later reaction on another answer")


async def test_a_clear_during_the_read_back_of_the_same_answer_is_not_undone_by_it(world, run_bot, caplog):
    """The read-back at a new session and a moderator's clear reconciled the same answer at once: the read-back,
    which read the reactions before the clear, stored a rating whose reaction was gone."""
    budi = world.member_id
    await give_consent(db(world), world.guild_id, budi, "ratings")
    async with run_bot():
        answer = await ask(world)
    await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")  # while the bot is offline
    caplog.set_level("INFO")
    slow = world.standin.answer_late("GET", rf"/messages/{answer.id}/reactions/", 1.0)
    async with run_bot():
        await eventually(lambda: slow.hits == 1, what="the read-back reading the reactions")
        await world.standin.core.clear_reactions(world.standin.message(answer.id))
        await eventually(lambda: "rating reactions read back" in caplog.text, what="the read-back")
        await eventually(lambda: "reactions removed by a moderator" in caplog.text, what="the clear reconciled")
        await asyncio.sleep(0.3)
        assert ratings(world) == set(), "a rating whose reaction a moderator removed is kept"


async def test_a_clear_while_the_consent_button_reads_the_reaction_removes_the_rating_too(world, run_bot, caplog):
    """Agreeing from the note reads the member's reactions, then stores the rating: a moderator's clear in between
    found nothing to remove, and the rating read before it was stored after it, its reaction gone."""
    from tests.e2e.test_feedback import button, click, custom_ids, rows

    caplog.set_level("INFO")
    budi = world.member_id
    async with run_bot():
        answer = await ask(world)
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "❌")
        prompt = await world.standin.wait_for_message(world.channel_id, lambda m: "thanks for rating" in m.content)
        notice = await click(world, prompt, budi, button(prompt, "cb:ask:"))
        ratings_only = next(c for c in custom_ids(notice.original) if c.startswith("cb:consent:ratings:"))
        slow = world.standin.answer_late("GET", rf"/messages/{answer.id}/reactions/", 1.0)
        await world.standin.click_button(notice.original.channel_id, notice.original.id, budi, ratings_only)
        await eventually(lambda: slow.hits == 1, what="the button reading Budi's reactions")
        await world.standin.core.clear_reactions(world.standin.message(answer.id))
        await eventually(lambda: "reactions removed by a moderator" in caplog.text, what="the clear reconciled")
        await asyncio.sleep(1.5)  # the button's slowed read (1 s) has come back and been acted on
        assert rows(world, "SELECT value FROM ratings") == [], "a rating kept though its reaction was removed"
