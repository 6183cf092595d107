"""The stand-in refuses what Discord refuses in embeds (400, code 50035, Invalid Form Body): a title over 256
characters, a description over 4,096, more than 25 fields, a field name over 256 or value over 1,024, a footer
text over 2,048, an author name over 256, or over 6,000 characters in all embeds of a message together (title,
description, field names and values, footer text, author name). Checked on every path a message body takes:
create and edit, interaction responses, followups and webhook-message edits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord.ext import commands

from bot.sandbox.discord import DiscordStandIn
from bot.sandbox.discord.errors import ApiError
from bot.sandbox.discord.message_input import validate_lengths
from bot.sandbox.discord.testing import connected
from tests.helpers import eventually


def too_long(limit: int) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}


TOTAL_EXCEEDED = [{"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}]


def refusal(body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ApiError) as raised:
        validate_lengths(body)
    assert (raised.value.status, raised.value.code, raised.value.message) == (400, 50035, "Invalid Form Body")
    result: dict[str, Any] = raised.value.body()
    return result


def embed_with(path: tuple[str, ...], text: str) -> dict[str, Any]:
    """An embed holding `text` at `path`: ("title",), ("footer", "text"), ("fields", "0", "value")…"""
    embed: dict[str, Any] = {"fields": [{"name": "n", "value": "v"}]}
    branch: Any = embed
    for part in path[:-1]:
        branch = branch[int(part)] if isinstance(branch, list) else branch.setdefault(part, {})
    branch[path[-1]] = text
    return embed


def nested(path: tuple[str, ...], leaf: dict[str, Any]) -> dict[str, Any]:
    for part in reversed(path):
        leaf = {part: leaf}
    return leaf


LIMITS = [
    (("title",), 256),
    (("description",), 4096),
    (("fields", "0", "name"), 256),
    (("fields", "0", "value"), 1024),
    (("footer", "text"), 2048),
    (("author", "name"), 256),
]


@pytest.mark.parametrize(("path", "limit"), LIMITS, ids=[".".join(path) for path, _ in LIMITS])
def test_each_text_is_refused_one_character_past_its_limit(path: tuple[str, ...], limit: int) -> None:
    validate_lengths({"embeds": [embed_with(path, "x" * limit)]})
    body = refusal({"embeds": [{"title": "fine"}, embed_with(path, "x" * (limit + 1))]})
    assert body == {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {"embeds": {"1": nested(path, too_long(limit))}},
    }


def test_more_than_25_fields_are_refused() -> None:
    fields = [{"name": "n", "value": "v"} for _ in range(26)]
    validate_lengths({"embeds": [{"fields": fields[:25]}]})
    assert refusal({"embeds": [{"fields": fields}]})["errors"] == {"embeds": {"0": {"fields": too_long(25)}}}


def test_the_total_counts_every_text_of_every_embed_of_the_message() -> None:
    """6,000 characters in all: title 200 + description 3,000 + fields (name 100 + value 1,000) + footer 1,000 +
    author 100 = 5,400 in the first, 600 in the second; one more anywhere is too many."""
    first = {
        "title": "t" * 200,
        "description": "d" * 3000,
        "fields": [{"name": "n" * 100, "value": "v" * 1000}],
        "footer": {"text": "f" * 1000, "icon_url": "https://example.com/" + "i" * 5000},  # URLs do not count
        "author": {"name": "a" * 100},
        "url": "https://example.com/" + "u" * 5000,
    }
    second = {"description": "d" * 600}
    validate_lengths({"embeds": [first, second]})
    body = refusal({"embeds": [first, {"description": "d" * 601}]})
    assert body["errors"] == {"embeds": {"_errors": TOTAL_EXCEEDED}}


def test_every_problem_is_named_at_once_and_the_single_embed_key_is_checked_too() -> None:
    embed = {"title": "t" * 257, "description": "d" * 4096, "fields": [{"name": "n", "value": "v" * 2000}]}
    assert refusal({"embeds": [embed]})["errors"] == {
        "embeds": {
            "0": {"title": too_long(256), "fields": {"0": {"value": too_long(1024)}}},
            "_errors": TOTAL_EXCEEDED,
        }
    }
    assert refusal({"embed": {"description": "d" * 4097}})["errors"] == {
        "embed": {"0": {"description": too_long(4096)}}
    }


def test_content_and_the_number_of_embeds_are_refused_as_before() -> None:
    assert refusal({"content": "c" * 2001})["errors"] == {"content": too_long(2000)}
    assert refusal({"embeds": [{}] * 11})["errors"] == {"embeds": too_long(10)}
    validate_lengths({"content": "c" * 2000, "embeds": [{}] * 10, "embed": None})


# --------------------------------------------------------------------------- through discord.py


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandIn]:
    async with DiscordStandIn(bot_username="culturebot", heartbeat_interval_ms=1000) as server:
        yield server


def oversized() -> discord.Embed:
    return discord.Embed(title="Too long", description="d" * 4097)


def assert_refused(error: discord.HTTPException, where: str) -> None:
    assert (error.status, error.code) == (400, 50035)
    assert f"In {where}: Must be 4096 or fewer in length." in error.text


async def test_create_and_edit_refuse_an_oversized_embed(standin: DiscordStandIn) -> None:
    guild = standin.add_guild("Culture Lab")
    channel_id = int(standin.add_channel(guild["id"], "general")["id"])
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with connected(bot, standin):
        channel = bot.get_channel(channel_id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send(embed=oversized())
        assert_refused(refused.value, "embeds.0.description")
        assert standin.bot_messages(channel_id) == []

        fine = discord.Embed(title="Fits", description="d" * 4096)
        sent = await channel.send(embed=fine)
        with pytest.raises(discord.HTTPException) as refused:
            await sent.edit(embed=oversized())
        assert_refused(refused.value, "embeds.0.description")
        [stored] = standin.bot_messages(channel_id)
        assert stored.embeds[0]["title"] == "Fits"
        assert not stored.edits


async def test_interaction_responses_followups_and_their_edits_refuse_an_oversized_embed(
    standin: DiscordStandIn,
) -> None:
    guild = standin.add_guild("Culture Lab")
    channel_id = int(standin.add_channel(guild["id"], "general")["id"])
    member_id = int(standin.add_member(guild["id"], "alice")["user"]["id"])
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    refused: list[tuple[str, discord.HTTPException]] = []

    async def attempt(step: str, call: Any) -> None:
        try:
            await call
        except discord.HTTPException as error:
            refused.append((step, error))

    @bot.tree.command(name="big", description="Send an oversized embed")
    async def big(interaction: discord.Interaction) -> None:
        await attempt("response", interaction.response.send_message(embed=oversized()))
        await interaction.response.send_message("small")
        await attempt("edit response", interaction.edit_original_response(embed=oversized()))
        await attempt("followup", interaction.followup.send(embed=oversized()))
        followup = await interaction.followup.send("small followup", wait=True)
        await attempt("edit followup", followup.edit(embed=oversized()))

    async with connected(bot, standin):
        await bot.tree.sync()
        interaction_id = await standin.invoke_command(int(guild["id"]), channel_id, member_id, "big")
        await standin.wait_for_followup(interaction_id)
        await eventually(lambda: len(refused) == 4, what="the four refusals")
    assert [step for step, _ in refused] == ["response", "edit response", "followup", "edit followup"]
    for _, error in refused:
        assert_refused(error, "embeds.0.description")
    assert [m.content for m in standin.channel_messages(channel_id)] == ["small", "small followup"]
    assert all(not m.embeds for m in standin.channel_messages(channel_id))
