"""The digest's real embed, at its largest, is taken by the stand-in, which refuses what Discord refuses in embeds:
a worst-case digest's embed (`within_limits` in bot/digests/summary.py) posts through the real discord.py client, as
the digest service posts it (with its chart as the image), and an embed over Discord's limits is refused with a
400 that discord.py raises as HTTPException."""

from __future__ import annotations

import discord
import pytest

from bot.digests.summary import digest_embed
from bot.sandbox.discord.testing import connected
from tests.digests.test_embed_limits import FOOTER, worst_case_digest


def client() -> discord.Client:
    return discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)


@pytest.mark.parametrize("footer", [FOOTER, "f" * 4000], ids=["digest footer", "footer past its limit"])
async def test_a_worst_case_digest_embed_is_posted(world, footer):
    embed = digest_embed(worst_case_digest(), None, footer)
    embed.set_image(url="attachment://chart.png")
    async with connected(client(), world.standin) as bot:
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        posted = await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
    [stored] = world.standin.bot_messages(world.channel_id)
    assert stored.id == posted.id
    assert stored.embeds[0]["fields"][0]["name"] == "Answers"
    assert len(embed) > 5000  # near the 6,000 it must stay within


async def test_an_oversized_embed_is_refused_with_a_400(world):
    embed = digest_embed(worst_case_digest(), None, FOOTER)
    embed.add_field(name="Extra", value="x" * 1024)  # past 6,000 in all, after `within_limits`
    async with connected(client(), world.standin) as bot:
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send(embed=embed)
    assert (refused.value.status, refused.value.code) == (400, 50035)
    assert "In embeds: Embed size exceeds maximum size of 6000" in refused.value.text
    assert world.standin.bot_messages(world.channel_id) == []
