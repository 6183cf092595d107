"""Two moderators changing the same setting at once, through the stand-in: the second change's old value is the
first one's new value, in the audit log, in the moderation log and in their replies."""

from __future__ import annotations

import asyncio

from tests.e2e.test_answer_channels import stored_channels
from tests.e2e.test_mod_log import audit, logged, with_log_channel
from tests.e2e.test_scope_commands import reply_text

MANAGE_GUILD = 1 << 5


async def at_once(world, commands):
    """Send the commands without waiting between them; their replies, in the order sent."""
    ids = [
        await world.standin.invoke_command(world.guild_id, world.channel_id, user, name, options)
        for user, name, options in commands
    ]
    records = await asyncio.gather(*(world.standin.wait_for_interaction_response(i) for i in ids))
    return [await reply_text(world, record) for record in records]


async def test_two_moves_of_the_log_channel_at_once_chain_old_to_new(world, run_bot, moderator):
    role = world.standin.add_role(world.guild_id, "Moderators 2", permissions=MANAGE_GUILD)
    other_moderator = int(world.standin.add_member(world.guild_id, "mod-tono", roles=[role["id"]])["user"]["id"])
    first = int(world.standin.add_channel(world.guild_id, "log-a")["id"])
    second = int(world.standin.add_channel(world.guild_id, "log-b")["id"])
    async with run_bot():
        log = await with_log_channel(world, moderator)
        replies = await at_once(
            world,
            [
                (moderator, "scope settings", {"log_channel": first}),
                (other_moderator, "scope settings", {"log_channel": second}),
            ],
        )
        # Each change is made on the settings the other left: a chain, whichever ran first.
        rows = audit(world)[-2:]
        chains = [
            [f"scope settings: log_channel_id <#{log}> → <#{a}>", f"scope settings: log_channel_id <#{a}> → <#{b}>"]
            for a, b in ((first, second), (second, first))
        ]
        assert rows in chains, rows
        a, b = (first, second) if rows == chains[0] else (second, first)
        assert {replies[0].endswith(f"<#{first}>."), replies[1].endswith(f"<#{second}>.")} == {True}
        # The moderation log says the same: each channel the log left was told where it went.
        assert (await logged(world, log, 2))[1].endswith(f"moderation log channel <#{log}> → <#{a}>.")
        assert [line.split("changed ")[1] for line in await logged(world, a, 2)] == [
            f"scope settings: moderation log channel <#{log}> → <#{a}>.",
            f"scope settings: moderation log channel <#{a}> → <#{b}>.",
        ]
        assert (await logged(world, b, 1))[0].endswith(f"moderation log channel <#{a}> → <#{b}>.")


async def test_a_channel_added_while_another_moderator_changes_settings_keeps_both(world, run_bot, moderator):
    role = world.standin.add_role(world.guild_id, "Moderators 2", permissions=MANAGE_GUILD)
    other_moderator = int(world.standin.add_member(world.guild_id, "mod-tono", roles=[role["id"]])["user"]["id"])
    ask = int(world.standin.add_channel(world.guild_id, "ask")["id"])
    more = int(world.standin.add_channel(world.guild_id, "ask-more")["id"])
    async with run_bot():
        await at_once(
            world,
            [
                (moderator, "answers channel-add", {"channel": ask}),
                (other_moderator, "answers channel-add", {"channel": more}),
                (moderator, "answers settings", {"cooldown_seconds": 3}),
                (other_moderator, "answers settings", {"cooldown_seconds": 4}),
            ],
        )
        rows = [row.removeprefix("answers: ").split(" ", 1) for row in audit(world) if row.startswith("answers: ")]
        for column in ("cooldown_seconds", "answer_channels"):
            [(_, first_new), (second_old, _)] = [value.split(" → ") for name, value in rows if name == column]
            assert second_old == first_new, column  # a chain, whichever ran first
        assert set(stored_channels(world)) == {ask, more}
