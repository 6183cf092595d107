"""Through the stand-in: members choose their consent level with the real consent buttons (from a rating, or with
`/privacy consent`), change it, decline and agree, or ask to be forgotten; `/digest now` then says how many took
part at each level at the period's end, in the report, the embed and digest.json."""

from __future__ import annotations

import io
import json
import zipfile

from bot.storage import DigestStatus
from tests.e2e.test_consent_integrity import choice
from tests.e2e.test_digests import digest_posts
from tests.e2e.test_feedback import ask, button, choose, click, forget, rows
from tests.e2e.test_scope_commands import reply_text, run
from tests.helpers import eventually


async def chooses(world, member_id: int, level: str) -> None:
    """The member opens the notice with `/privacy consent` and picks `level`."""
    notice = (await run(world, member_id, "privacy consent")).original
    await choose(world, notice, member_id, choice(notice, level))


async def test_the_digest_counts_members_by_the_consent_they_chose_with_the_buttons(
    world, run_bot, moderator, digest_channel
):
    citra = int(world.standin.add_member(world.guild_id, "citra")["user"]["id"])
    dewi = int(world.standin.add_member(world.guild_id, "dewi")["user"]["id"])
    eko = int(world.standin.add_member(world.guild_id, "eko")["user"]["id"])
    async with run_bot(cooldown=0):
        answer = await ask(world)
        # budi rates, agrees to ratings and comments on the notice the rating brought, then lowers it to ratings.
        notice = (await click(world, answer, world.member_id, button(answer, "cb:rate:"))).original
        await choose(world, notice, world.member_id, choice(notice, "comments"))
        await eventually(lambda: rows(world, "SELECT count(*) FROM ratings") == [(1,)], what="budi's rating")
        await chooses(world, world.member_id, "ratings")
        # ayu, who asked, allows quotes and then rates.
        await chooses(world, world.asker_id, "quotes")
        await click(world, answer, world.asker_id, button(answer, "cb:rate:"))
        await eventually(lambda: rows(world, "SELECT count(*) FROM ratings") == [(2,)], what="ayu's rating")
        # citra declines on the notice of a rating, then agrees to comments.
        notice = (await click(world, answer, citra, button(answer, "cb:rate:"))).original
        await choose(world, notice, citra, choice(notice, "declined"))
        await chooses(world, citra, "comments")
        # dewi declines; eko allows quotes, then asks to be forgotten: no decision of theirs is left to count.
        await chooses(world, dewi, "declined")
        await chooses(world, eko, "quotes")
        assert (await forget(world, eko)).startswith("Deleted:")
        assert sorted(rows(world, "SELECT level FROM consents")) == [
            ("comments",),
            ("declined",),
            ("quotes",),
            ("ratings",),
        ]

        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        sent = await run(world, moderator, "digest now")
        assert f"Digest sent to <#{digest_channel}>" in await reply_text(world, sent)
        assert rows(world, "SELECT status FROM digests") == [(DigestStatus.SENT.value,)]

    [post] = digest_posts(world, digest_channel)
    markdown = post.attachment("report.md").data.decode()
    denominators = markdown.split("## Denominators")[1].split("\n## ")[0]
    # ayu (quotes), budi (ratings) and citra (comments) took part; dewi declined; eko was forgotten. The previous
    # period ended before anyone chose.
    assert "| Members taking part at the period's end | 3 | 0 | +3 |" in denominators
    assert "| · ratings only | 1 | 0 | +1 |" in denominators
    assert "| Members at 'declined' at the period's end | 1 | 0 | +1 |" in denominators
    assert (
        "Consent at the period's end: 3 members took part (1 ratings only, 1 with comments, 1 also quotes); "
        "1 declined. Of those who rated in this period (2): 1 ratings only, 0 with comments, 1 also quotes."
    ) in denominators
    assert "who asked to be forgotten (/privacy forget) has their decisions deleted" in markdown
    assert "Consent at the period&#x27;s end: 3 members took part" in post.attachment("report.html").data.decode()
    [answers] = [field["value"] for field in post.embeds[0]["fields"] if field["name"] == "Answers"]
    assert answers.endswith("; 3 members taking part at the period's end (1 declined)")
    with zipfile.ZipFile(io.BytesIO(post.attachment("data.zip").data)) as data:
        document = json.loads(data.read("digest.json"))
    counts = document["current"]["denominators"]
    assert counts["consent_at_end"] == {"ratings": 1, "comments": 1, "quotes": 1, "declined": 1}
    assert counts["raters_by_consent"] == {"ratings": 1, "comments": 0, "quotes": 1, "declined": 0, "no_decision": 0}
    assert document["previous"]["denominators"]["consent_at_end"] == {
        "ratings": 0,
        "comments": 0,
        "quotes": 0,
        "declined": 0,
    }
