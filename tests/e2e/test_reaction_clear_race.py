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
