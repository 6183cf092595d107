"""Live rating reactions taken back while the member still shows another rating emoji on the answer."""

from __future__ import annotations

from bot.feedback.ratings import RatingChange
from tests.e2e.test_feedback import ask, button_labeled, click, db, handled_reactions, rows
from tests.helpers import eventually, give_consent

RATINGS = "SELECT value, source FROM ratings"


async def test_taking_back_the_newer_of_two_rating_reactions_leaves_the_older_one_as_the_rating(
    world, run_bot, caplog, monkeypatch
):
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
        handled = handled_reactions(monkeypatch)
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: [change for *_, change in handled] == [RatingChange.IGNORED], what="the removal")
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


async def test_taking_back_a_reaction_leaves_a_rating_given_with_a_button_after_it(world, run_bot, monkeypatch):
    budi = world.member_id
    await give_consent(db(world), world.guild_id, budi, "ratings")
    async with run_bot():
        answer = await ask(world)
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: rows(world, RATINGS) == [(3, "reaction")], what="the reaction's rating")
        await click(world, answer, budi, button_labeled(answer, "Fits"))  # the same rating, now with the button
        await eventually(lambda: rows(world, RATINGS) == [(3, "button")], what="the button's rating")
        # The button came last: taking the older ✅ back does not take back the rating given with it.
        handled = handled_reactions(monkeypatch)
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: [change for *_, change in handled] == [RatingChange.IGNORED], what="the removal")
        assert rows(world, RATINGS) == [(3, "button")]
