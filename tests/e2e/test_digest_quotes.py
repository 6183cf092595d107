"""Through the stand-in: a comment whose author did not allow quoting is counted, not shown, in the digest posted to
the digest channel (reports, embed, digest.json) and in the offline CLI's report; the data files hold it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from bot.digests.offline import day_period, offline_digest
from tests.e2e.test_digests import answered, db, post_digest_a_week_on, rows
from tests.e2e.test_feedback import button, click
from tests.e2e.test_scope_commands import reply_text, run
from tests.helpers import eventually, give_consent

QUOTABLE = "Too formal for a warung, bapak would laugh"
PRIVATE = "My uncle Sutrisno would never say it like this"


async def commented(world, message, member_id: int, text: str) -> None:
    opened = await click(world, message, member_id, button(message, "cb:comment:"))
    [text_input] = [c for row in opened.modal["components"] for c in row["components"]]
    submitted = await world.standin.submit_modal(opened, member_id, values={text_input["custom_id"]: text})
    response = await world.standin.wait_for_interaction_response(submitted)
    assert response.response_data["content"] == "Thanks, your comment is saved."


async def test_a_comment_not_allowed_to_be_quoted_is_counted_not_shown_in_the_posted_digest(
    world, run_bot, moderator, digest_channel, tmp_path
):
    await give_consent(db(world), world.guild_id, world.asker_id, "quotes")
    await give_consent(db(world), world.guild_id, world.member_id, "comments")
    async with run_bot(cooldown=0) as bot:
        world.model.script("Say Pak to everyone, always.")
        await world.standin.send_message(world.channel_id, world.asker_id, world.mention("How do I greet a vendor?"))
        await eventually(lambda: answered(world) == 1, what="the answer")
        [message] = [m for m in world.standin.bot_messages(world.channel_id) if m.components]
        await world.standin.add_reaction(world.channel_id, message.id, world.asker_id, "❌")
        await world.standin.add_reaction(world.channel_id, message.id, world.member_id, "🤔")
        await eventually(lambda: rows(world, "SELECT count(*) FROM ratings")[0][0] == 2, what="the ratings")
        await commented(world, message, world.asker_id, QUOTABLE)
        await commented(world, message, world.member_id, PRIVATE)
        assert rows(world, "SELECT text, quotable FROM comments ORDER BY comment_id") == [(QUOTABLE, 1), (PRIVATE, 0)]

        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        posted = await post_digest_a_week_on(world, bot, digest_channel)

    post, markdown, page = posted.post, posted.markdown, posted.page
    lowest = markdown.split("## Lowest-fit answers, for follow-up")[1].split("\n## ")[0]
    [[comment_id]] = rows(world, "SELECT comment_id FROM comments WHERE quotable = 1")
    assert f"- Member A, comment {comment_id}: {QUOTABLE}" in lowest
    assert "- 1 more comment not shown: its author did not allow quoting" in lowest
    assert "1 more comment not shown: its author did not allow quoting" in page
    for text in (markdown, page, json.dumps(post.embeds, ensure_ascii=False)):
        assert "Sutrisno" not in text
    document = json.loads(posted.data["digest.json"])
    comments = list(csv.DictReader(io.StringIO(posted.data["comments.csv"].decode())))
    assert "Sutrisno" not in json.dumps(document, ensure_ascii=False)
    [note] = document["lowest_fit"]
    assert ([c["text"] for c in note["comments"]], note["unquotable_comments"]) == ([QUOTABLE], 1)
    # The data files, the research team's rows, hold every comment with its flag.
    assert [(row["text"], row["quotable"]) for row in comments] == [(QUOTABLE, "true"), (PRIVATE, "false")]

    # The offline CLI writes the same report, under the same rule.
    today = datetime.now(UTC).date()
    offline = await offline_digest(
        db(world), world.guild_id, day_period(today - timedelta(days=6), today, "UTC"), tmp_path / "offline"
    )
    report = offline.files.markdown.read_text(encoding="utf-8")
    assert "Sutrisno" not in report and "Sutrisno" not in offline.files.html.read_text(encoding="utf-8")
    assert "1 more comment not shown: its author did not allow quoting" in report
