"""Live rating reactions taken back while the member still shows another rating emoji on the answer."""

from __future__ import annotations

import asyncio

from tests.e2e.test_feedback import ask, db, rows
from tests.helpers import eventually, give_consent

RATINGS = "SELECT value, source FROM ratings"


async def test_taking_back_the_newer_of_two_rating_reactions_leaves_the_older_one_as_the_rating(world, run_bot, caplog):
    budi = world.member_id
    await give_consent(db(world), world.guild_id, budi, "ratings")
    async with run_bot():
        answer = await ask(world)  # one message
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "🤔")
        await eventually(lambda: rows(world, RATINGS) == [(2, "reaction")], what="the newer reaction's rating")
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "🤔")
        await eventually(lambda: rows(world, RATINGS) == [(3, "reaction")], what="✅, still there, as the rating")

        # Taking back the one left deletes it.
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: rows(world, RATINGS) == [], what="the rating to go")

        # Two left when the current one is taken back: which came last cannot be told, so no rating is kept.
        for emoji in ("✅", "🤔", "❌"):
            await world.standin.add_reaction(world.channel_id, answer.id, budi, emoji)
        await eventually(lambda: rows(world, RATINGS) == [(1, "reaction")], what="the last reaction's rating")
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "❌")
        await eventually(lambda: rows(world, RATINGS) == [], what="the ambiguous rating to go")

        # Taking back an older, replaced reaction changes nothing, and asks Discord nothing.
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "🤔")
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "❌")
        await eventually(lambda: rows(world, RATINGS) == [(1, "reaction")], what="the new rating")
        reads = len(world.standin.find_requests("GET", rf"^/channels/\d+/messages/{answer.id}$"))
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "✅")
        await asyncio.sleep(0.3)
        assert rows(world, RATINGS) == [(1, "reaction")]
        assert len(world.standin.find_requests("GET", rf"^/channels/\d+/messages/{answer.id}$")) == reads

        # When the reactions cannot be read, the removal deletes the rating, as it always did, and says so.
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "🤔")
        await eventually(lambda: rows(world, RATINGS) == [(2, "reaction")], what="the rating of 🤔")
        world.standin.fail_next("GET", rf"^/channels/\d+/messages/{answer.id}$", status=403)
        caplog.set_level("WARNING", logger="cogs.feedback")
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "🤔")
        await eventually(lambda: rows(world, RATINGS) == [], what="the rating to go though ❌ is left")
        assert "could not read the member's other rating reactions" in caplog.text
