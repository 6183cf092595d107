"""Through the stand-in: moderator actions that name channels, a role and a member reach the posted digest's files
as "channel 123" (as the by-channel table names channels) and "role 456", never as raw Discord markup, and no
member's Discord id reaches the files or the embed."""

from __future__ import annotations

import json
import re

from tests.e2e.test_digests import post_digest_a_week_on, rated_answers
from tests.e2e.test_mod_log import audit
from tests.e2e.test_scope_commands import reply_text, run


async def test_moderator_actions_name_channels_and_roles_by_id_and_members_by_none(
    world, run_bot, moderator, digest_channel
):
    researchers = world.standin.add_role(world.guild_id, "Researchers")
    async with run_bot(cooldown=0) as bot:
        await rated_answers(world)
        await reply_text(world, await run(world, moderator, "digest channel", {"channel": digest_channel}))
        await reply_text(world, await run(world, moderator, "digest research-role", {"role": researchers["id"]}))
        await reply_text(world, await run(world, moderator, "answers channel-add", {"channel": world.channel_id}))
        contact = f"Ask <@{moderator}> or <@!{world.asker_id}>"
        await reply_text(world, await run(world, moderator, "research settings", {"research_contact": contact}))
        # What the audit log holds: Discord tags, a member's id among them.
        details = "\n".join(audit(world))
        assert f"<#{world.channel_id}>" in details and f"<@&{researchers['id']}>" in details
        assert f"<@{moderator}>" in details
        posted = await post_digest_a_week_on(world, bot, digest_channel)

    post, markdown, page = posted.post, posted.markdown, posted.page
    document = json.loads(posted.data["digest.json"])
    actions = [entry["detail"] for entry in document["moderator_actions"]]

    assert f"digest: digest_channel_id none → channel {digest_channel}" in actions
    assert f"digest: research_role_id none → role {researchers['id']}" in actions
    assert f"answers: answer_channels every channel I can read → channel {world.channel_id}" in actions
    assert any("research_contact none → “Ask @member or @member”" in detail for detail in actions)
    # The by-channel table names the channel the same way.
    [group] = next(b for b in document["breakdowns"] if b["dimension"] == "channel")["groups"]
    assert group["label"] == f"channel {world.channel_id}"
    section = markdown.split("## Scope changes and moderator actions")[1]
    assert f"research\\_role\\_id none → role {researchers['id']}" in section  # Markdown escapes the underscores
    assert f"answer\\_channels every channel I can read → channel {world.channel_id}" in section
    assert f"→ channel {digest_channel}" in page

    files = {"report.md": markdown, "report.html": page, "digest.json": json.dumps(document, ensure_ascii=False)}
    for name, text in files.items():
        assert not re.search(r"(<|&lt;|\\<)(#|\\#|@)", text), f"Discord markup in {name}"
        for user in (moderator, world.asker_id, world.member_id):
            assert str(user) not in text, f"a member's Discord id in {name}"
    # The embed carries the headline numbers only: no moderator action, and no member's id.
    embed = json.dumps(post.embeds, ensure_ascii=False)
    for user in (moderator, world.asker_id, world.member_id):
        assert str(user) not in embed
