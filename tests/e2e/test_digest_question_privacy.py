"""Through the stand-in: a question asked privately with /ask, and one whose asker did not allow quoting, are not
shown in the digest posted to the digest channel (reports, embed, digest.json), though both are rated among the
lowest-fit answers; the data files hold them, with the answer's model, privacy and the server's own pseudonyms."""

from __future__ import annotations

import csv
import hashlib
import io
import json

from bot.pseudonyms import Pseudonymizer
from tests.e2e.test_digests import answered, db, post_digest_a_week_on, rows
from tests.e2e.test_feedback import click
from tests.e2e.test_scope_commands import reply_text, run
from tests.helpers import eventually, give_consent

PRIVATE = "SECRETPRIVATE my salary is low, should I ask my manager Ibu Sari for a raise?"
PRIVATE_ANSWER = "SECRETANSWER Ask Ibu Sari in private, after a good quarter."
UNQUOTED = "NOQUOTE How do I turn down my uncle's business offer?"
PUBLIC = "SHOWN How do I greet a vendor at the warung?"


def server_pseudonym(guild_id: int, stored: str) -> str:
    """The member's pseudonym in this server's data files, as the codebook describes it."""
    return hashlib.sha256(f"culturebot-export:{guild_id}:{stored}".encode()).hexdigest()[:32]


def rate_button(message, value: int):
    """The rating button of this value (cb:rate:<answer>[:<scale>]:<value>)."""
    ids = [c["custom_id"] for row in message.components for c in row["components"] if "custom_id" in c]
    return next(i for i in ids if i.startswith("cb:rate:") and i.endswith(f":{value}"))


async def test_a_private_question_is_not_shown_in_the_posted_digest(world, run_bot, moderator, digest_channel):
    # The asker allows quoting: their private question is withheld because it was private, and their public one
    # shown. The other member allows comments only: their public question is withheld.
    await give_consent(db(world), world.guild_id, world.asker_id, "quotes")
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    async with run_bot(cooldown=0) as bot:
        world.model.script(PRIVATE_ANSWER, "It depends on the family.", "Say Pak or Bu.")
        private = await run(world, world.asker_id, "ask", {"question": PRIVATE, "private": True})
        hidden = await world.standin.wait_for_followup(private.id)
        await eventually(lambda: answered(world) == 1, what="the private answer")
        await world.standin.send_message(world.channel_id, world.member_id, world.mention(UNQUOTED))
        await eventually(lambda: answered(world) == 2, what="the answer to the unquotable question")
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention(PUBLIC))
        await eventually(lambda: answered(world) == 3, what="the public answer")
        assert rows(world, "SELECT ephemeral FROM answers ORDER BY answer_id") == [(1,), (0,), (0,)]

        # The private answer is rated "does not fit" with its button, the two public ones with reactions.
        message = world.standin.message(hidden.id)
        assert message.ephemeral
        await click(world, message, world.asker_id, rate_button(message, 1))
        public_answers = [m for m in world.standin.bot_messages(world.channel_id) if m.components]
        await world.standin.add_reaction(world.channel_id, public_answers[0].id, world.asker_id, "❌")
        await world.standin.add_reaction(world.channel_id, public_answers[1].id, world.member_id, "🤔")
        await eventually(lambda: rows(world, "SELECT count(*) FROM ratings")[0][0] == 3, what="the ratings")

        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        posted = await post_digest_a_week_on(world, bot, digest_channel)

    post, markdown, page = posted.post, posted.markdown, posted.page
    document = posted.data["digest.json"].decode()
    answers = list(csv.DictReader(io.StringIO(posted.data["answers.csv"].decode())))
    ratings = list(csv.DictReader(io.StringIO(posted.data["ratings.csv"].decode())))
    shown = (markdown, page, document, json.dumps(post.embeds, ensure_ascii=False), post.content or "")
    for text in shown:
        for secret in ("SECRETPRIVATE", "Ibu Sari", "SECRETANSWER", "NOQUOTE"):
            assert secret not in text, secret
    lowest = markdown.split("## Lowest-fit answers, for follow-up")[1].split("\n## ")[0]
    assert "(question not shown: asked privately)" in lowest
    assert "(answer not shown: asked privately)" in lowest
    assert "(question not shown: the asker did not allow quoting)" in lowest
    assert "It depends on the family." in lowest  # a public answer's excerpt stays
    assert PUBLIC in lowest
    notes = {note["answer_id"]: note for note in json.loads(document)["lowest_fit"]}
    assert [notes[answer_id]["question_withheld"] for answer_id in sorted(notes)] == ["private", "not_quotable", None]
    assert json.loads(document)["culturebot_version"]

    # The data files, the research team's rows, hold every question, marked, under the server's own pseudonyms.
    assert [(row["question"], row["private"], row["question_quotable"]) for row in answers] == [
        (PRIVATE, "true", "false"),
        (UNQUOTED, "false", "false"),
        (PUBLIC, "false", "true"),
    ]
    assert answers[0]["answer"] == PRIVATE_ANSWER and {row["model"] for row in answers} == {bot.settings.model_name}
    stored = Pseudonymizer(b"k" * 32).member(world.asker_id)
    assert answers[0]["asker_hash"] == server_pseudonym(world.guild_id, stored) != stored
    assert {row["rater_hash"] for row in ratings if row["answer_id"] == answers[0]["answer_id"]} == {
        answers[0]["asker_hash"]
    }
