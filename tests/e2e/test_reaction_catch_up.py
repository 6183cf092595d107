"""Rating reactions made while the bot was offline are read back when it connects (bot/feedback/catch_up.py)."""

from __future__ import annotations

import asyncio
import sqlite3

from bot.pseudonyms import Pseudonymizer
from tests.e2e.test_feedback import ask, button_labeled, click, db, rows
from tests.e2e.test_scope_commands import run
from tests.helpers import eventually, give_consent


def member_hash(user_id: int) -> str:
    return Pseudonymizer(b"k" * 32).member(user_id)


def ratings(world) -> set[tuple[str, str, int, str]]:
    """(question, rater hash, value, source) of every stored rating."""
    return {
        (question, rater, value, source)
        for question, rater, value, source in rows(
            world,
            "SELECT a.question, r.rater_hash, r.value, r.source FROM ratings r JOIN answers a USING (answer_id)",
        )
    }


async def read_back_at_start(run_bot, caplog):
    """Start the bot, and stop it once it has logged reading back the rating reactions."""
    caplog.set_level("INFO", logger="bot.runtime")
    caplog.clear()  # an earlier start's line (captured when another test left the root logger at INFO) is not this one
    async with run_bot():
        await eventually(lambda: "rating reactions read back" in caplog.text, what="the catch-up")


async def rated_live(world, run_bot):
    """An answer that the consenting member (world.member_id) rated ✅ while the bot ran; the bot is stopped."""
    await give_consent(db(world), world.guild_id, world.member_id, "ratings")
    async with run_bot():
        answer = await ask(world)
        await world.standin.add_reaction(world.channel_id, answer.id, world.member_id, "✅")
        await eventually(lambda: len(ratings(world)) == 1, what="the live rating")
    return answer


async def test_reactions_made_while_offline_are_read_back_on_connect(world, run_bot):
    citra = int(world.standin.add_member(world.guild_id, "citra")["user"]["id"])  # never chose: no consent
    ayu, budi = world.asker_id, world.member_id
    await give_consent(db(world), world.guild_id, budi, "ratings")
    await give_consent(db(world), world.guild_id, ayu, "ratings")
    async with run_bot():
        first = await ask(world, "How do I address my manager?")
        second = await ask(world, "How do I greet my aunt at Lebaran?")
        assert second.id != first.id
        await world.standin.add_reaction(world.channel_id, first.id, budi, "✅")
        await click(world, first, ayu, button_labeled(first, "Does not fit"))
        await eventually(lambda: len(ratings(world)) == 2, what="the live ratings")

    # Offline: nothing reaches the bot.
    await world.standin.remove_reaction(world.channel_id, first.id, budi, "✅")  # took it back
    await world.standin.add_reaction(world.channel_id, second.id, budi, "❌")  # a new rating
    await world.standin.add_reaction(world.channel_id, first.id, ayu, "✅")  # rated with a button already
    await world.standin.add_reaction(world.channel_id, second.id, citra, "✅")  # no consent
    await world.standin.add_reaction(world.channel_id, second.id, ayu, "✅")  # two ratings at once: which?
    await world.standin.add_reaction(world.channel_id, second.id, ayu, "🤔")
    q1, q2 = "How do I address my manager?", "How do I greet my aunt at Lebaran?"
    assert ratings(world) == {(q1, member_hash(budi), 3, "reaction"), (q1, member_hash(ayu), 1, "button")}

    async with run_bot():
        expected = {(q2, member_hash(budi), 1, "reaction"), (q1, member_hash(ayu), 1, "button")}
        await eventually(lambda: ratings(world) == expected, what="the reactions read back")
        # Members who have not chosen are not stored and not prompted in a burst of channel notes.
        assert not [m for m in world.standin.bot_messages(world.channel_id) if "thanks for rating" in m.content]
        # Live reactions carry on as usual afterwards.
        await world.standin.add_reaction(world.channel_id, second.id, budi, "🤔")
        await eventually(
            lambda: (q2, member_hash(budi), 2, "reaction") in ratings(world), what="a live change after the catch-up"
        )


async def test_reading_back_can_be_turned_off(world, run_bot):
    ayu, budi = world.asker_id, world.member_id
    await give_consent(db(world), world.guild_id, budi, "ratings")
    await give_consent(db(world), world.guild_id, ayu, "ratings")
    async with run_bot():
        answer = await ask(world)
    await world.standin.add_reaction(world.channel_id, answer.id, budi, "❌")  # offline
    async with run_bot(reaction_catch_up_answers=0):
        await world.standin.add_reaction(world.channel_id, answer.id, ayu, "✅")  # live
        await eventually(lambda: len(ratings(world)) == 1, what="the live rating")
        assert {rater for _, rater, _, _ in ratings(world)} == {member_hash(ayu)}, "the offline one was not read"


async def test_an_answer_that_cannot_be_read_keeps_its_ratings(world, run_bot, caplog):
    budi = world.member_id
    answer = await rated_live(world, run_bot)
    await world.standin.delete_message(world.channel_id, answer.id)  # offline: the reactions went with it
    await read_back_at_start(run_bot, caplog)
    assert "1 answer(s) unreadable" in caplog.text and "404" in caplog.text
    assert {rater for _, rater, _, _ in ratings(world)} == {member_hash(budi)}, "not deleted on a failed read"


async def test_a_rating_taken_back_offline_goes_when_two_other_rating_reactions_remain(world, run_bot, caplog):
    budi = world.member_id
    answer = await rated_live(world, run_bot)
    # Offline: Budi adds 🤔 and ❌, then takes ✅ back. Which of the two is meant cannot be told, but ✅ is gone:
    # as live, the rating goes.
    await world.standin.add_reaction(world.channel_id, answer.id, budi, "🤔")
    await world.standin.add_reaction(world.channel_id, answer.id, budi, "❌")
    await world.standin.remove_reaction(world.channel_id, answer.id, budi, "✅")
    await read_back_at_start(run_bot, caplog)
    assert "0 stored, 1 removed, 0 not kept without consent, 1 ambiguous" in caplog.text
    assert ratings(world) == set()


async def test_ratings_on_the_scale_used_before_a_change_survive_the_catch_up(world, run_bot, caplog):
    await rated_live(world, run_bot)  # on the 3-point scale
    with sqlite3.connect(db(world)) as conn:  # the moderators switch to the 5-point scale meanwhile
        conn.execute("UPDATE guild_settings SET rating_scale = 'likert5'")
    await read_back_at_start(run_bot, caplog)
    assert "0 removed" in caplog.text
    assert rows(world, "SELECT value, scale_size, source FROM ratings") == [(3, 3, "reaction")]


async def test_a_new_session_while_reading_back_reads_again_once_the_running_pass_ends(world, run_bot, caplog):
    budi = world.member_id
    await give_consent(db(world), world.guild_id, budi, "ratings")
    caplog.set_level("INFO", logger="bot.runtime")
    caplog.clear()  # an earlier start's line (captured when another test left the root logger at INFO) is not this one
    async with run_bot():
        older = await ask(world, "How do I address my manager?")
        newer = await ask(world, "How do I greet my aunt at Lebaran?")

    def sessions_and_passes() -> list[str]:
        """'session' for each on_ready, 'pass' for each finished catch-up, in order."""
        return [
            "session" if record.getMessage().startswith("connected as") else "pass"
            for record in caplog.records
            if record.getMessage().startswith(("connected as", "rating reactions read back"))
        ]

    # At the start the catch-up reads the newer answer, then waits out a rate limit on the older one.
    older_read = rf"^/channels/{world.channel_id}/messages/{older.id}$"
    limited = world.standin.fail_next("GET", older_read, status=429, retry_after=2.0)
    async with run_bot() as bot:

        async def identify_soon(shard_id: int | None, *, initial: bool = False) -> None:
            await asyncio.sleep(0.5)  # discord.py waits 5 s before identifying again

        bot.before_identify_hook = identify_soon
        await eventually(lambda: limited.hits == 1, what="the catch-up to read the newer answer, then wait")
        newer_read = world.standin.find_requests("GET", rf"^/channels/{world.channel_id}/messages/{newer.id}$")
        assert [r for r in newer_read if not r.fault], "the newer answer was read already"

        # An outage meanwhile, the session lost: a reaction on the answer already read is never delivered.
        await world.standin.invalidate_session()
        await world.standin.add_reaction(world.channel_id, newer.id, budi, "✅")
        delivered = [e for e in world.standin.events("MESSAGE_REACTION_ADD") if e.data["user_id"] == str(budi)]
        assert not delivered, "made while no session could receive it"
        await eventually(lambda: sessions_and_passes().count("session") == 3, what="the new session")
        assert sessions_and_passes() == ["session", "pass", "session", "session"], "the first pass still runs"

        # Once the running pass ends, another reads the reaction back.
        await eventually(
            lambda: ratings(world) == {("How do I greet my aunt at Lebaran?", member_hash(budi), 3, "reaction")},
            what="the second pass to read the reaction back",
        )
    assert sessions_and_passes() == ["session", "pass", "session", "session", "pass", "pass"]


async def test_a_rating_taken_back_offline_goes_though_its_member_must_agree_to_a_new_notice_first(
    world, run_bot, moderator, caplog
):
    budi = world.member_id
    await give_consent(db(world), world.guild_id, budi, "ratings")
    async with run_bot():
        answer = await ask(world)
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: len(ratings(world)) == 1, what="the live rating")
        # A new notice: Budi must be asked again before anything new of theirs is kept.
        await run(world, moderator, "research settings", {"consent_note": "We now also study regional variation."})

    # Offline, Budi changes their mind: ✅ taken back, 🤔 instead.
    await world.standin.remove_reaction(world.channel_id, answer.id, budi, "✅")
    await world.standin.add_reaction(world.channel_id, answer.id, budi, "🤔")
    await read_back_at_start(run_bot, caplog)
    # The rating of ✅ goes (taking it back needs no consent); 🤔 is not kept before Budi agrees again.
    assert "1 removed, 1 not kept without consent" in caplog.text
    assert ratings(world) == set()
    assert not [m for m in world.standin.bot_messages(world.channel_id) if "thanks for rating" in m.content]


async def test_super_reactions_count_as_ratings_live_and_when_read_back(world, run_bot, caplog):
    """Discord lists the members of super ("burst") reactions apart from normal ones: the catch-up reads both,
    so a rating given with a super reaction is not taken for one whose reaction went."""
    ayu, budi = world.asker_id, world.member_id
    await give_consent(db(world), world.guild_id, budi, "ratings")
    await give_consent(db(world), world.guild_id, ayu, "ratings")
    question = "How do I address my manager?"
    async with run_bot():
        answer = await ask(world, question)
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅", burst=True)
        await eventually(lambda: ratings(world) == {(question, member_hash(budi), 3, "reaction")}, what="the rating")
    # Offline: Ayu rates with a super reaction too.
    await world.standin.add_reaction(world.channel_id, answer.id, ayu, "🤔", burst=True)
    caplog.set_level("INFO", logger="bot.runtime")
    caplog.clear()  # an earlier start's line (captured when another test left the root logger at INFO) is not this one
    async with run_bot():
        await eventually(lambda: "rating reactions read back" in caplog.text, what="the catch-up")
        assert ratings(world) == {
            (question, member_hash(budi), 3, "reaction"),
            (question, member_hash(ayu), 2, "reaction"),
        }
        # Taking the super reaction back removes the rating, as a normal one would.
        await world.standin.remove_reaction(world.channel_id, answer.id, budi, "✅", burst=True)
        await eventually(lambda: len(ratings(world)) == 1, what="the rating taken back")


async def test_reactions_dropped_by_a_decline_or_a_forget_are_not_stored_by_a_later_agreement_when_read_back(
    world, run_bot, caplog
):
    """A reaction given before the member declined (or asked to be forgotten) was dropped; agreeing later keeps only
    what they give from then on, and the read-back at the next session must not bring the old reaction back."""
    from tests.e2e.test_feedback import forget
    from tests.e2e.test_feedback_pending import choose_in_privacy_consent

    budi, ayu = world.member_id, world.asker_id
    await give_consent(db(world), world.guild_id, ayu, "ratings")
    async with run_bot(cooldown=0):
        answer = await ask(world)
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")  # before choosing: noted
        await choose_in_privacy_consent(world, budi, "declined")
        await choose_in_privacy_consent(world, budi, "ratings")
        await world.standin.add_reaction(world.channel_id, answer.id, ayu, "❌")
        await eventually(lambda: len(ratings(world)) == 1, what="Ayu's rating")
        await forget(world, ayu)
        await choose_in_privacy_consent(world, ayu, "ratings")
        await eventually(lambda: rows(world, "SELECT count(*) FROM consents") == [(2,)], what="both agreements")
        assert ratings(world) == set()
    caplog.set_level("INFO", logger="bot.runtime")
    caplog.clear()  # an earlier start's line (captured when another test left the root logger at INFO) is not this one
    async with run_bot():
        await eventually(lambda: "rating reactions read back" in caplog.text, what="the catch-up")
        assert "0 stored, 0 removed, 2 not kept without consent" in caplog.text
        assert ratings(world) == set()
        # What they give from now on is kept, live as usual (the question went with its forgotten asker).
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "🤔")
        await eventually(lambda: ratings(world) == {("", member_hash(budi), 2, "reaction")}, what="a new rating")


async def test_reactions_a_moderator_removes_take_their_ratings_along_live(world, run_bot, caplog):
    """ "Remove all reactions" (or all of one emoji) sends no removal per member: the answer's ratings are brought
    in line with the reactions left, at once, instead of at the next reconnect. Button ratings stay."""
    budi, ayu = world.member_id, world.asker_id
    citra = int(world.standin.add_member(world.guild_id, "citra")["user"]["id"])
    for member in (budi, ayu, citra):
        await give_consent(db(world), world.guild_id, member, "ratings")
    caplog.set_level("INFO", logger="cogs.feedback")
    async with run_bot():
        answer = await ask(world)
        q = "How do I address my manager?"
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")
        await world.standin.add_reaction(world.channel_id, answer.id, citra, "🤔")
        await click(world, answer, ayu, button_labeled(answer, "Does not fit"))
        await eventually(lambda: len(ratings(world)) == 3, what="the three ratings")

        await world.standin.add_reaction(world.channel_id, answer.id, citra, "🎉")
        await world.standin.core.clear_reactions(world.standin.message(answer.id), {"name": "🎉", "id": None})
        await world.standin.core.clear_reactions(world.standin.message(answer.id), {"name": "🤔", "id": None})
        expected = {(q, member_hash(budi), 3, "reaction"), (q, member_hash(ayu), 1, "button")}
        await eventually(lambda: ratings(world) == expected, what="Citra's rating gone with her 🤔")
        assert caplog.text.count("reactions removed by a moderator") == 1, "🎉 is no rating: nothing read for it"

        await world.standin.core.clear_reactions(world.standin.message(answer.id))
        await eventually(
            lambda: ratings(world) == {(q, member_hash(ayu), 1, "button")}, what="every reaction rating gone"
        )
        assert "reactions removed by a moderator; 1 rating(s) removed" in caplog.text
        # Reactions given afterwards count as usual.
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "❌")
        await eventually(lambda: (q, member_hash(budi), 1, "reaction") in ratings(world), what="a new rating")


async def test_reactions_on_an_answer_are_read_with_the_scale_it_was_posted_with(world, run_bot, caplog):
    """After the server changes its scale, an older answer's ✅ 🤔 ❌ are still its ratings (live and read back),
    as its buttons are: taking ✅ back removes the rating, 🤔 added later rates 2 of 3; a new answer takes the new
    scale's emojis only."""
    from tests.e2e.conftest import set_guild_settings

    budi, citra = world.member_id, int(world.standin.add_member(world.guild_id, "citra")["user"]["id"])
    for member in (budi, citra):
        await give_consent(db(world), world.guild_id, member, "ratings")
    async with run_bot(cooldown=0):
        old = await ask(world)
        await world.standin.add_reaction(world.channel_id, old.id, budi, "✅")
        await eventually(lambda: len(ratings(world)) == 1, what="the rating on the 3-point scale")
    await set_guild_settings(world.settings(), world.guild_id, {"rating_scale": "likert5"})
    scales = "SELECT a.question, r.value, r.scale_size FROM ratings r JOIN answers a USING (answer_id) ORDER BY 1, 2"
    async with run_bot(cooldown=0):
        await world.standin.remove_reaction(world.channel_id, old.id, budi, "✅")
        await world.standin.add_reaction(world.channel_id, old.id, citra, "🤔")
        await eventually(lambda: rows(world, scales) == [("How do I address my manager?", 2, 3)], what="live")
        new = await ask(world, "And my aunt?")
        await world.standin.add_reaction(world.channel_id, new.id, budi, "✅")  # not this answer's scale
        await world.standin.add_reaction(world.channel_id, new.id, budi, "4️⃣")
        await eventually(lambda: len(rows(world, scales)) == 2, what="the 5-point rating")
        assert rows(world, scales) == [("And my aunt?", 4, 5), ("How do I address my manager?", 2, 3)]
    # Offline, Citra takes 🤔 back and Budi adds ❌ on the older answer: read back on its own scale.
    await world.standin.remove_reaction(world.channel_id, old.id, citra, "🤔")
    await world.standin.add_reaction(world.channel_id, old.id, budi, "❌")
    await read_back_at_start(run_bot, caplog)
    assert "1 stored, 1 removed" in caplog.text
    assert rows(world, scales) == [("And my aunt?", 4, 5), ("How do I address my manager?", 1, 3)]


async def test_a_reaction_from_before_a_forget_does_not_replace_a_rating_taken_back_offline(world, run_bot, caplog):
    """Budi rated ❌, asked to be forgotten, agreed again and rated ✅; the ❌ stays on Discord. While the bot is
    offline they take back ✅: the read-back used to store the forgotten ❌ in its place."""
    from tests.e2e.test_feedback import forget
    from tests.e2e.test_feedback_pending import choose_in_privacy_consent

    budi = world.member_id
    async with run_bot(cooldown=0):
        answer = await ask(world)
        await choose_in_privacy_consent(world, budi, "ratings")
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "❌")
        await eventually(lambda: len(ratings(world)) == 1, what="the ❌ rating")
        await forget(world, budi)
        await choose_in_privacy_consent(world, budi, "ratings")
        await world.standin.add_reaction(world.channel_id, answer.id, budi, "✅")
        await eventually(lambda: {value for _, _, value, _ in ratings(world)} == {3}, what="the ✅ rating")
    await world.standin.remove_reaction(world.channel_id, answer.id, budi, "✅")  # offline
    caplog.set_level("INFO", logger="bot.runtime")
    caplog.clear()
    async with run_bot():
        await eventually(lambda: "rating reactions read back" in caplog.text, what="the catch-up")
        assert "0 stored, 1 removed, 1 not kept without consent" in caplog.text
        assert ratings(world) == set()
