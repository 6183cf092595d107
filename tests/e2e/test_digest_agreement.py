"""Through the stand-in: members rate answers with reactions, and the digest posted to the digest channel reports
agreement across raters (Krippendorff's alpha) with its bootstrap interval, in the embed, the report and
digest.json alike."""

from __future__ import annotations

import json

from tests.e2e.test_digests import answered, db, digest_posts, post_digest_a_week_on, rows
from tests.e2e.test_scope_commands import reply_text, run
from tests.helpers import eventually, give_consent

# Two members' reactions to each of twelve answers (3-point scale): eight agree, four do not.
AGREED = [("✅", "✅")] * 4 + [("❌", "❌")] * 3 + [("🤔", "🤔")]
REACTIONS = [*AGREED, ("✅", "🤔"), ("✅", "❌"), ("🤔", "❌"), ("❌", "🤔")]


async def test_the_posted_digest_gives_alpha_with_its_interval(world, run_bot, moderator, digest_channel):
    await give_consent(db(world), world.guild_id, world.asker_id, "comments")
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    async with run_bot(cooldown=0) as bot:
        for index in range(len(REACTIONS)):
            world.model.script(f"Answer number {index}.")
            await world.standin.send_message(world.channel_id, world.asker_id, world.mention(f"Question {index}?"))
            await eventually(lambda: answered(world) > index, what=f"answer {index + 1}")  # noqa: B023 - awaited here
        messages = [m for m in world.standin.bot_messages(world.channel_id) if m.components]
        assert len(messages) == len(REACTIONS)
        for message, (first, second) in zip(messages, REACTIONS, strict=True):
            await world.standin.add_reaction(world.channel_id, message.id, world.asker_id, first)
            await world.standin.add_reaction(world.channel_id, message.id, world.member_id, second)
        expected = 2 * len(REACTIONS)
        await eventually(lambda: rows(world, "SELECT count(*) FROM ratings")[0][0] == expected, what="the ratings")

        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        posted = await post_digest_a_week_on(world, bot, digest_channel)

    agreement = json.loads(posted.data["digest.json"])["disagreement"]
    assert (agreement["alpha_units"], agreement["alpha_values"], agreement["alpha_raters"]) == (12, 24, 2)
    low, alpha, high = agreement["alpha_low"], agreement["alpha"], agreement["alpha_high"]
    assert low < alpha < high  # twelve answers, four of them disagreeing: an interval that is far from a point
    shown = f"{alpha:.2f} (95% CI {low:.2f} to {high:.2f})".replace("-", "−")
    sentence = agreement["alpha_sentence"]
    assert f"Krippendorff's alpha (ordinal) is {shown} over 12 answers rated by two or more members" in sentence
    assert sentence in posted.markdown
    [post] = digest_posts(world, digest_channel)
    [field] = [field for field in post.embeds[0]["fields"] if field["name"] == "Agreement"]
    assert field["value"] == sentence
