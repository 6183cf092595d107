"""The Discord stand-in driven by the real discord.py over real sockets: login, cache, messages,
reactions, threads, attachments, slash commands and interactions, faults and gateway resume."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands

from bot.sandbox.discord import (
    OVERWRITE_MEMBER,
    DiscordStandIn,
    FileOption,
    MessageFlag,
    Permission,
)
from bot.sandbox.discord.testing import connected


@dataclass
class World:
    standin: DiscordStandIn
    guild_id: int
    channel_id: int
    alice_id: int
    bob_id: int
    moderator_role_id: int


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandIn]:
    async with DiscordStandIn(bot_username="culturebot", heartbeat_interval_ms=1000) as server:
        yield server


@pytest.fixture
def world(standin: DiscordStandIn) -> World:
    guild = standin.add_guild("Culture Lab")
    channel = standin.add_channel(guild["id"], "general")
    moderators = standin.add_role(guild["id"], "moderators", int(Permission.MANAGE_MESSAGES))
    alice = standin.add_member(guild["id"], "alice")
    bob = standin.add_member(guild["id"], "bob", roles=[moderators["id"]])
    return World(
        standin=standin,
        guild_id=int(guild["id"]),
        channel_id=int(channel["id"]),
        alice_id=int(alice["user"]["id"]),
        bob_id=int(bob["user"]["id"]),
        moderator_role_id=int(moderators["id"]),
    )


def make_bot(*, message_content: bool = False) -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = message_content
    return commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.05, help_command=None)


async def eventually(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


# --------------------------------------------------------------------------- login and cache


async def test_login_and_ready_fill_the_cache(world: World) -> None:
    standin = world.standin
    thread_parent = standin.add_channel(world.guild_id, "forum-ish")
    bot = make_bot()
    async with connected(bot, standin):
        assert bot.user is not None
        assert bot.user.id == standin.bot_user_id
        assert bot.application_id == standin.application_id
        guild = bot.get_guild(world.guild_id)
        assert guild is not None
        assert guild.name == "Culture Lab"
        assert {c.name for c in guild.text_channels} == {"general", "forum-ish"}
        assert {r.name for r in guild.roles} >= {"@everyone", "moderators", "culturebot"}
        assert guild.me is not None
        assert guild.me.guild_permissions.send_messages
        assert standin.identify_count == 1
        assert standin.identified.is_set()

        # Channels, roles and threads created while connected reach the cache through the gateway.
        standin.add_channel(world.guild_id, "late")
        standin.add_role(world.guild_id, "late-role")
        thread = await standin.create_thread(thread_parent["id"], "side talk", world.alice_id)
        await eventually(lambda: guild.get_channel_or_thread(int(thread["id"])) is not None)
        await eventually(lambda: discord.utils.get(guild.text_channels, name="late") is not None)
        await eventually(lambda: discord.utils.get(guild.roles, name="late-role") is not None)
        second = standin.add_guild("Second Lab")
        await eventually(lambda: bot.get_guild(int(second["id"])) is not None)


async def test_rest_answers_plain_application_json_and_rejects_bad_tokens(standin: DiscordStandIn) -> None:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bot {standin.token}"}
        async with http.get(standin.api_base + "/users/@me", headers=headers) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"
            assert resp.headers["X-RateLimit-Bucket"]
            assert (await resp.json())["id"] == str(standin.bot_user_id)
        async with http.get(standin.api_base + "/users/@me", headers={"Authorization": "Bot nope"}) as resp:
            assert resp.status == 401

    bot = make_bot()
    with standin.configure_discord_py():
        with pytest.raises(discord.LoginFailure):
            await bot.login("not-the-token")
        await bot.close()


async def test_configure_discord_py_restores_the_real_endpoints(standin: DiscordStandIn) -> None:
    original_base = discord.http.Route.BASE
    original_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    with standin.configure_discord_py():
        assert standin.api_base == discord.http.Route.BASE
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == standin.gateway_url
    assert original_base == discord.http.Route.BASE
    assert original_gateway == discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


# --------------------------------------------------------------------------- messages


async def test_bot_send_edit_delete_are_recorded_and_dispatched(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    edits: list[tuple[str, str]] = []
    deleted: list[int] = []

    @bot.event
    async def on_message_edit(before: discord.Message, after: discord.Message) -> None:
        edits.append((before.content, after.content))

    @bot.event
    async def on_raw_message_delete(payload: discord.RawMessageDeleteEvent) -> None:
        deleted.append(payload.message_id)

    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send(
            f"hello <@{world.alice_id}> and @everyone", allowed_mentions=discord.AllowedMentions.none()
        )
        await sent.edit(content="hello again")
        await eventually(lambda: edits)
        assert edits == [(f"hello <@{world.alice_id}> and @everyone", "hello again")]

        [stored] = standin.bot_messages(world.channel_id)
        assert stored.id == sent.id
        assert stored.content == "hello again"
        assert [e.content for e in stored.edits] == [f"hello <@{world.alice_id}> and @everyone"]
        assert stored.edits[0].allowed_mentions == {"parse": []}
        assert not stored.pings_anyone

        request = await standin.wait_for_request("POST", rf"^/channels/{world.channel_id}/messages$")
        assert request.json["allowed_mentions"] == {"parse": []}

        await sent.delete()
        await eventually(lambda: deleted == [sent.id])
        assert standin.channel_messages(world.channel_id) == []
        assert standin.message(sent.id).deleted


async def test_mentions_ping_without_allowed_mentions(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send(f"hi <@{world.alice_id}> <@&{world.moderator_role_id}>")
        stored = await standin.wait_for_message(world.channel_id)
        assert stored.mentions == [world.alice_id]
        assert stored.mention_roles == [world.moderator_role_id]
        assert stored.pings_anyone


async def test_a_ping_when_sent_is_still_seen_after_an_edit_that_allows_none(world: World) -> None:
    """Discord notifies when a message is sent; an edit with no pings allowed does not take that back (a streamed
    answer's first message, sent with a member mention allowed and edited without, has pinged them)."""
    standin = world.standin
    bot = make_bot()
    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send(f"hi <@{world.alice_id}>", allowed_mentions=discord.AllowedMentions(users=True))
        await sent.edit(content=f"hi <@{world.alice_id}>!", allowed_mentions=discord.AllowedMentions.none())
        stored = await standin.wait_for(lambda: standin.message(sent.id).edits and standin.message(sent.id))
        assert stored.mentions == [] and stored.pings_anyone
        quiet = await channel.send(f"hi <@{world.alice_id}>", allowed_mentions=discord.AllowedMentions.none())
        assert not standin.message(quiet.id).pings_anyone


async def test_member_messages_reach_on_message(world: World) -> None:
    standin = world.standin
    bot = make_bot(message_content=True)
    seen: list[discord.Message] = []

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if not message.author.bot:
            seen.append(message)
            await message.reply(f"echo: {message.content}", mention_author=False)

    async with connected(bot, standin):
        sent = await standin.send_message(world.channel_id, world.alice_id, "what is culture?")
        reply = await standin.wait_for_message(world.channel_id)
        [message] = seen
        assert message.content == "what is culture?"
        assert message.author.id == world.alice_id
        assert isinstance(message.author, discord.Member)
        assert reply.content == "echo: what is culture?"
        assert reply.message_reference is not None
        assert reply.message_reference["message_id"] == sent["id"]
        assert reply.type == 19
        assert not reply.pings_anyone  # mention_author=False → replied_user false

        # Replies from members carry the referenced message.
        await standin.send_message(world.channel_id, world.bob_id, "follow-up", reply_to=reply.id)
        await eventually(lambda: len(seen) == 2)
        assert seen[1].reference is not None
        assert seen[1].reference.message_id == reply.id


async def test_message_content_is_redacted_without_the_intent(world: World) -> None:
    standin = world.standin
    bot = make_bot(message_content=False)
    seen: list[discord.Message] = []

    @bot.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    async with connected(bot, standin):
        await standin.send_message(world.channel_id, world.alice_id, "secret words")
        await standin.send_message(world.channel_id, world.alice_id, f"<@{standin.bot_user_id}> hello bot")
        await eventually(lambda: len(seen) == 2)
        assert seen[0].content == ""
        assert seen[1].content == f"<@{standin.bot_user_id}> hello bot"
        assert bot.user in seen[1].mentions


async def test_history_and_fetch(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    for text in ("one", "two", "three"):
        await standin.send_message(world.channel_id, world.alice_id, text)
    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        history = [m.content async for m in channel.history(limit=10)]
        assert history == ["three", "two", "one"]
        oldest = [m.content async for m in channel.history(limit=10, oldest_first=True)]
        assert oldest == ["one", "two", "three"]
        first = standin.channel_messages(world.channel_id)[0]
        fetched = await channel.fetch_message(first.id)
        assert fetched.content == "one"
        with pytest.raises(discord.NotFound):
            await channel.fetch_message(12345)


async def test_typing_is_recorded(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        async with channel.typing():
            await channel.send("typed")
        await standin.wait_for_request("POST", rf"/channels/{world.channel_id}/typing$")


# --------------------------------------------------------------------------- reactions


async def test_reactions_reach_raw_events_including_the_bots_own(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    added: list[tuple[int, str]] = []
    removed: list[tuple[int, str]] = []

    @bot.event
    async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
        added.append((payload.user_id, str(payload.emoji)))

    @bot.event
    async def on_raw_reaction_remove(payload: discord.RawReactionActionEvent) -> None:
        removed.append((payload.user_id, str(payload.emoji)))

    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("rate me")
        await message.add_reaction("👍")
        await standin.add_reaction(world.channel_id, message.id, world.alice_id, "👍")
        await standin.add_reaction(world.channel_id, message.id, world.bob_id, "thinking:1234")
        await eventually(lambda: len(added) == 3)
        assert added == [
            (standin.bot_user_id, "👍"),
            (world.alice_id, "👍"),
            (world.bob_id, "<:thinking:1234>"),
        ]
        stored = standin.message(message.id)
        assert stored.reactions["👍"].user_ids == [standin.bot_user_id, world.alice_id]

        await standin.remove_reaction(world.channel_id, message.id, world.alice_id, "👍")
        await message.remove_reaction("👍", bot.user)  # type: ignore[arg-type]
        await eventually(lambda: len(removed) == 2)
        assert removed == [(world.alice_id, "👍"), (standin.bot_user_id, "👍")]
        assert "👍" not in standin.message(message.id).reactions


# --------------------------------------------------------------------------- attachments and threads


async def test_attachments_both_ways(world: World) -> None:
    standin = world.standin
    bot = make_bot(message_content=True)
    downloaded: list[bytes] = []

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.attachments and not message.author.bot:
            downloaded.append(await message.attachments[0].read())

    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        import io

        sent = await channel.send("report", file=discord.File(io.BytesIO(b"ratings,1,2"), filename="report.csv"))
        assert sent.attachments[0].filename == "report.csv"
        stored = standin.message(sent.id)
        assert stored.attachment("report.csv").data == b"ratings,1,2"
        upload = await standin.wait_for_request("POST", rf"/channels/{world.channel_id}/messages$")
        assert upload.files[0].filename == "report.csv"
        assert upload.json["content"] == "report"

        await standin.send_message(world.channel_id, world.alice_id, "see file", attachments=[("notes.txt", b"hi")])
        await eventually(lambda: downloaded)
        assert downloaded == [b"hi"]


async def test_bot_creates_threads_and_posts_in_them(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    created: list[discord.Thread] = []

    @bot.event
    async def on_thread_create(thread: discord.Thread) -> None:
        created.append(thread)

    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        starter = await channel.send("a question")
        thread = await starter.create_thread(name="answers")
        await thread.send("first answer")
        assert thread.id == starter.id
        assert [m.content for m in standin.channel_messages(thread.id)] == ["first answer"]
        standalone = await channel.create_thread(name="open", type=discord.ChannelType.public_thread)
        await eventually(lambda: len(created) == 2)
        assert {t.name for t in created} == {"answers", "open"}
        guild = bot.get_guild(world.guild_id)
        assert guild is not None
        assert guild.get_thread(standalone.id) is not None


async def test_an_archived_thread_is_edited_only_while_unarchiving(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        thread = await (await channel.send("a question")).create_thread(name="answers")
        await standin.update_channel(thread.id, archived=True)
        with pytest.raises(discord.HTTPException) as refused:
            await thread.edit(name="renamed")
        assert (refused.value.status, refused.value.code) == (400, 50083)
        assert standin.state.channel(thread.id).name == "answers"
        thread = await thread.edit(name="renamed", archived=False)
        assert (thread.name, thread.archived) == ("renamed", False)


# --------------------------------------------------------------------------- slash commands and interactions


class ScopeGroup(app_commands.Group):
    def __init__(self, log: list[Any]) -> None:
        super().__init__(name="scope", description="Manage scopes")
        self.log = log

    @app_commands.command(name="use", description="Use a scope")
    async def use(
        self,
        interaction: discord.Interaction,
        name: str,
        depth: int,
        who: discord.Member,
        evidence: discord.Attachment | None = None,
    ) -> None:
        content = (await evidence.read()).decode() if evidence else None
        self.log.append((name, depth, who.id, content, interaction.permissions.manage_messages))
        await interaction.response.send_message(f"using {name}", ephemeral=True)


async def test_slash_command_sync_and_invocation(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    log: list[Any] = []
    bot.tree.add_command(ScopeGroup(log))

    async with connected(bot, standin):
        synced = await bot.tree.sync()
        assert [c.name for c in synced] == ["scope"]
        [stored] = standin.commands()
        assert stored["options"][0]["name"] == "use"
        assert stored["id"] == str(synced[0].id)
        # Syncing again keeps ids and versions of unchanged commands.
        again = await bot.tree.sync()
        assert again[0].id == synced[0].id
        assert standin.commands()[0]["version"] == stored["version"]

        interaction_id = await standin.invoke_command(
            world.guild_id,
            world.channel_id,
            world.bob_id,
            "scope use",
            {"name": "thick", "depth": 3, "who": world.alice_id, "evidence": FileOption("e.txt", b"proof")},
        )
        record = await standin.wait_for_interaction_response(interaction_id)
        assert log == [("thick", 3, world.alice_id, "proof", True)]
        assert record.response_type == 4
        assert record.ephemeral
        assert record.original is not None
        assert record.original.content == "using thick"
        assert record.original.flags & MessageFlag.EPHEMERAL
        assert standin.channel_messages(world.channel_id) == []  # ephemeral: not in history

        # Without MANAGE_MESSAGES the member's interaction permissions say so.
        options = {"name": "x", "depth": 1, "who": world.bob_id}
        await standin.invoke_command(world.guild_id, world.channel_id, world.alice_id, "scope use", options)
        await eventually(lambda: len(log) == 2)
        assert log[1][4] is False


async def test_defer_then_followups(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    created: list[discord.Message] = []

    @bot.event
    async def on_message(message: discord.Message) -> None:
        created.append(message)

    @bot.tree.command(name="ask", description="Ask the model")
    async def ask(interaction: discord.Interaction, question: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"answer to {question}")
        await interaction.followup.send("more detail")
        await interaction.edit_original_response(content=f"final answer to {question}")

    async with connected(bot, standin):
        await bot.tree.sync()
        interaction_id = await standin.invoke_command(
            world.guild_id, world.channel_id, world.alice_id, "ask", {"question": "why"}
        )
        record = await standin.wait_for_interaction_response(interaction_id)
        assert record.response_type == 5
        await standin.wait_for_followup(interaction_id, count=2)
        await eventually(lambda: record.original is not None and record.original.content.startswith("final"))
        assert record.original is not None
        assert not record.thinking
        assert [m.content for m in record.messages] == ["final answer to why", "more detail"]
        assert [m.content for m in standin.channel_messages(world.channel_id)] == [
            "final answer to why",
            "more detail",
        ]
        assert all(m.interaction_id == interaction_id for m in record.messages)
        await eventually(lambda: len(created) == 2)  # the thinking message and the second followup


async def test_modal_submit(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    received: list[str] = []

    class RateModal(discord.ui.Modal, title="Rate the answer"):
        comment: discord.ui.TextInput[RateModal] = discord.ui.TextInput(label="Comment", custom_id="comment")
        extra: discord.ui.TextInput[RateModal] = discord.ui.TextInput(label="Extra", custom_id="extra", required=False)

        async def on_submit(self, interaction: discord.Interaction) -> None:
            received.append(self.comment.value)
            await interaction.response.send_message("thanks", ephemeral=True)

    @bot.tree.command(name="rate", description="Rate")
    async def rate(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(RateModal(custom_id="rate-modal"))

    async with connected(bot, standin):
        await bot.tree.sync()
        opened = await standin.invoke_command(world.guild_id, world.channel_id, world.alice_id, "rate")
        record = await standin.wait_for_interaction_response(opened)
        assert record.response_type == 9
        assert record.modal is not None
        assert record.modal["custom_id"] == "rate-modal"

        with pytest.raises(ValueError, match="required"):
            await standin.submit_modal(opened, values={"extra": "x"})
        submitted = await standin.submit_modal(opened, custom_id="rate-modal", values={"comment": "thick answer"})
        answer = await standin.wait_for_interaction_response(submitted)
        assert received == ["thick answer"]
        assert answer.ephemeral
        assert answer.original is not None
        assert answer.original.content == "thanks"


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"vote:(?P<answer>\d+)"):
    clicks: ClassVar[list[tuple[int, int]]] = []

    def __init__(self, answer: int) -> None:
        super().__init__(discord.ui.Button(label="Vote", custom_id=f"vote:{answer}"))
        self.answer = answer

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> VoteButton:
        return cls(int(match["answer"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        VoteButton.clicks.append((self.answer, interaction.user.id))
        assert interaction.message is not None
        await interaction.response.edit_message(content=f"{interaction.message.content} (votes: {len(self.clicks)})")


async def test_persistent_buttons_are_clicked(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    VoteButton.clicks = []
    bot.add_dynamic_items(VoteButton)
    view_clicks: list[int] = []

    class Persistent(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Details", custom_id="details")
        async def details(self, interaction: discord.Interaction, button: discord.ui.Button[Persistent]) -> None:
            view_clicks.append(interaction.user.id)
            await interaction.response.send_message("details here", ephemeral=True)

    @bot.tree.command(name="poll", description="Poll")
    async def poll(interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(VoteButton(7))
        await interaction.response.send_message("Answer 7", view=view)

    async with connected(bot, standin):
        bot.add_view(Persistent())
        await bot.tree.sync()
        invoked = await standin.invoke_command(world.guild_id, world.channel_id, world.alice_id, "poll")
        record = await standin.wait_for_interaction_response(invoked)
        assert record.original is not None
        message_id = record.original.id

        clicked = await standin.click_button(world.channel_id, message_id, world.bob_id, "vote:7")
        update = await standin.wait_for_interaction_response(clicked)
        assert update.response_type == 7
        assert VoteButton.clicks == [(7, world.bob_id)]
        assert standin.message(message_id).content == "Answer 7 (votes: 1)"
        assert standin.interaction(clicked).payload["message"]["id"] == str(message_id)

        with pytest.raises(ValueError, match="no component"):
            await standin.click_button(world.channel_id, message_id, world.bob_id, "vote:8")

        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        panel = await channel.send("panel", view=Persistent())
        details = await standin.click_button(world.channel_id, panel.id, world.alice_id, "details")
        answer = await standin.wait_for_interaction_response(details)
        assert view_clicks == [world.alice_id]
        assert answer.ephemeral


async def test_autocomplete_choices(world: World) -> None:
    standin = world.standin
    bot = make_bot()

    @bot.tree.command(name="culture", description="Pick a culture")
    async def culture(interaction: discord.Interaction, region: str) -> None:
        await interaction.response.send_message(region)

    @culture.autocomplete("region")
    async def region_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        options = ["Andes", "Anatolia", "Baltics"]
        return [app_commands.Choice(name=o, value=o.lower()) for o in options if o.lower().startswith(current)]

    async with connected(bot, standin):
        await bot.tree.sync()
        choices = await standin.autocomplete(
            world.guild_id, world.channel_id, world.alice_id, "culture", {"region": "an"}, focused="region"
        )
        assert choices == [{"name": "Andes", "value": "andes"}, {"name": "Anatolia", "value": "anatolia"}]


async def test_late_interaction_response_is_refused_like_discord(world: World) -> None:
    standin = world.standin
    standin.interactions.response_timeout = 0.1
    bot = make_bot()
    errors: list[BaseException] = []

    @bot.tree.command(name="slow", description="Too slow")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.3)
        try:
            await interaction.response.send_message("late")
        except discord.NotFound as exc:
            errors.append(exc)

    async with connected(bot, standin):
        await bot.tree.sync()
        await standin.invoke_command(world.guild_id, world.channel_id, world.alice_id, "slow")
        await eventually(lambda: errors)
        assert isinstance(errors[0], discord.NotFound)
        assert errors[0].code == 10062


# --------------------------------------------------------------------------- faults


async def test_rate_limit_is_waited_out(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        standin.fail_next("POST", r"/messages$", status=429, retry_after=0.3)
        started = time.monotonic()
        await channel.send("after the limit")
        assert time.monotonic() - started >= 0.3
        attempts = [r for r in standin.requests if r.method == "POST" and r.path.endswith("/messages")]
        assert [(r.status, r.fault) for r in attempts] == [(429, True), (200, False)]
        assert [m.content for m in standin.channel_messages(world.channel_id)] == ["after the limit"]


async def test_server_errors_are_retried(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        standin.fail_next("POST", r"/messages$", status=502)
        await channel.send("survived")
        statuses = [r.status for r in standin.requests if r.path.endswith("/messages")]
        assert statuses == [502, 200]


async def test_followups_survive_a_webhook_rate_limit(world: World) -> None:
    standin = world.standin
    bot = make_bot()

    @bot.tree.command(name="ping", description="Ping")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.followup.send("pong")

    async with connected(bot, standin):
        await bot.tree.sync()
        standin.fail_next("POST", r"^/webhooks/", status=429, retry_after=0.1)
        interaction_id = await standin.invoke_command(world.guild_id, world.channel_id, world.alice_id, "ping")
        followup = await standin.wait_for_followup(interaction_id)
        assert followup.content == "pong"


async def test_gateway_resume_replays_missed_events(world: World) -> None:
    standin = world.standin
    bot = make_bot(message_content=True)
    seen: list[str] = []
    resumed = asyncio.Event()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    @bot.event
    async def on_resumed() -> None:
        resumed.set()

    async with connected(bot, standin):
        await standin.send_message(world.channel_id, world.alice_id, "before")
        await eventually(lambda: seen == ["before"])
        await standin.close_gateway(code=4000)
        await standin.send_message(world.channel_id, world.alice_id, "while away")
        await standin.wait_for_resume()
        await asyncio.wait_for(resumed.wait(), 5)
        await eventually(lambda: seen == ["before", "while away"])
        await standin.send_message(world.channel_id, world.alice_id, "after")
        await eventually(lambda: seen == ["before", "while away", "after"])
        assert standin.identify_count == 1
        assert standin.resume_count == 1


async def test_invalidated_session_identifies_again(world: World) -> None:
    standin = world.standin
    bot = make_bot()

    async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py waits 5 s before re-identifying; not needed against the stand-in

    bot.before_identify_hook = no_identify_delay  # type: ignore[method-assign]
    async with connected(bot, standin):
        await standin.invalidate_session()
        await standin.wait_for_identify(count=2)
        await standin.wait_until_ready()
        assert standin.resume_count == 0


# --------------------------------------------------------------------------- permissions


async def test_permissions_are_computed_like_discord(world: World) -> None:
    standin = world.standin
    secret = standin.add_channel(world.guild_id, "secret")
    secret_id = int(secret["id"])
    standin.set_permission_overwrite(secret_id, world.guild_id, deny=int(Permission.VIEW_CHANNEL))
    standin.set_permission_overwrite(
        secret_id, world.alice_id, allow=int(Permission.VIEW_CHANNEL), type=OVERWRITE_MEMBER
    )
    admins = standin.add_role(world.guild_id, "admins", int(Permission.ADMINISTRATOR))
    carol = standin.add_member(world.guild_id, "carol", roles=[admins["id"]])
    readonly = standin.add_channel(world.guild_id, "announcements")
    standin.set_permission_overwrite(readonly["id"], world.guild_id, deny=int(Permission.SEND_MESSAGES))

    assert standin.channel_permissions(secret_id, world.bob_id) == 0
    assert standin.channel_permissions(secret_id, world.alice_id) & Permission.VIEW_CHANNEL
    assert standin.channel_permissions(secret_id, carol["user"]["id"]) & Permission.ADMINISTRATOR
    assert standin.channel_permissions(world.channel_id, world.bob_id) & Permission.MANAGE_MESSAGES
    assert not standin.channel_permissions(world.channel_id, world.alice_id) & Permission.MANAGE_MESSAGES

    bot = make_bot()
    async with connected(bot, standin):
        blocked = bot.get_channel(int(readonly["id"]))
        assert isinstance(blocked, discord.TextChannel)
        with pytest.raises(discord.Forbidden) as info:
            await blocked.send("nope")
        assert info.value.code == 50013
        with pytest.raises(PermissionError):
            await standin.send_message(readonly["id"], world.alice_id, "nope")


async def test_direct_messages(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    dms: list[discord.Message] = []

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if isinstance(message.channel, discord.DMChannel) and not message.author.bot:
            dms.append(message)

    async with connected(bot, standin):
        user = await bot.fetch_user(world.alice_id)
        sent = await user.send("a private hello")
        assert [m.content for m in standin.channel_messages(sent.channel.id)] == ["a private hello"]
        await standin.send_dm(world.alice_id, "hi bot")
        await eventually(lambda: dms)
        assert dms[0].content == "hi bot"  # DMs keep content without the MESSAGE_CONTENT intent


# --------------------------------------------------------------------------- more interaction shapes


async def test_auto_sharded_bot_uses_gateway_bot(world: World) -> None:
    standin = world.standin
    bot = commands.AutoShardedBot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with connected(bot, standin):
        assert bot.get_guild(world.guild_id) is not None
        await standin.wait_for_request("GET", r"^/gateway/bot$")
        assert standin.identify_payloads[0]["shard"] == [0, 1]


async def test_select_menus_and_deferred_updates(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    chosen: list[list[str]] = []

    class Picker(discord.ui.View):
        @discord.ui.select(custom_id="pick", options=[discord.SelectOption(label=x) for x in ("a", "b", "c")])
        async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[Picker]) -> None:
            chosen.append(select.values)
            await interaction.response.defer()  # type 6 for components
            await interaction.edit_original_response(content=f"picked {', '.join(select.values)}", view=None)
            await interaction.followup.send("noted", ephemeral=True)

    async with connected(bot, standin):
        channel = bot.get_channel(world.channel_id)
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("pick one", view=Picker())
        interaction_id = await standin.select_option(world.channel_id, message.id, world.alice_id, "pick", ["b"])
        record = await standin.wait_for_interaction_response(interaction_id)
        assert record.response_type == 6
        followup = await standin.wait_for_followup(interaction_id)
        assert chosen == [["b"]]
        assert followup.ephemeral
        assert followup.content == "noted"
        stored = standin.message(message.id)
        assert stored.content == "picked b"
        assert stored.components == []


async def test_ephemeral_defer_then_followup_keeps_it_private(world: World) -> None:
    standin = world.standin
    bot = make_bot()

    @bot.tree.command(name="private", description="Private")
    async def private(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("only you")

    async with connected(bot, standin):
        await bot.tree.sync()
        interaction_id = await standin.invoke_command(world.guild_id, world.channel_id, world.alice_id, "private")
        followup = await standin.wait_for_followup(interaction_id)
        record = standin.interaction(interaction_id)
        assert record.ephemeral
        assert followup is record.original
        assert followup.ephemeral
        assert followup.content == "only you"
        assert standin.channel_messages(world.channel_id) == []


async def test_context_menu_commands_and_guild_sync(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    targets: list[int] = []
    guild = discord.Object(id=world.guild_id)

    @bot.tree.context_menu(name="Rate message", guild=guild)
    async def rate_message(interaction: discord.Interaction, message: discord.Message) -> None:
        targets.append(message.id)
        await interaction.response.send_message(f"rating {message.content}")

    async with connected(bot, standin):
        await bot.tree.sync(guild=guild)
        assert [c["name"] for c in standin.commands(world.guild_id)] == ["Rate message"]
        assert standin.commands() == []
        posted = await standin.send_message(world.channel_id, world.alice_id, "an answer")
        interaction_id = await standin.invoke_command(
            world.guild_id, world.channel_id, world.bob_id, "Rate message", command_type=3, target_id=posted["id"]
        )
        record = await standin.wait_for_interaction_response(interaction_id)
        assert targets == [int(posted["id"])]
        assert record.original is not None
        assert record.original.content == "rating an answer"


async def test_forum_posts_and_original_response_lifecycle(world: World) -> None:
    standin = world.standin
    forum = standin.add_channel(world.guild_id, "questions", type=15)
    bot = make_bot()
    fetched: list[str] = []

    @bot.tree.command(name="temp", description="Temporary")
    async def temp(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("short-lived")
        original = await interaction.original_response()
        fetched.append(original.content)
        await interaction.delete_original_response()

    async with connected(bot, standin):
        channel = bot.get_channel(int(forum["id"]))
        assert isinstance(channel, discord.ForumChannel)
        post = await channel.create_thread(name="Is tea a meal?", content="Discuss.")
        assert post.thread.name == "Is tea a meal?"
        assert post.message.content == "Discuss."
        assert [m.content for m in standin.channel_messages(post.thread.id)] == ["Discuss."]

        await bot.tree.sync()
        interaction_id = await standin.invoke_command(world.guild_id, world.channel_id, world.alice_id, "temp")
        record = await standin.wait_for_interaction_response(interaction_id)
        await standin.wait_for_request("DELETE", r"/messages/@original$")
        assert fetched == ["short-lived"]
        assert record.original is not None and record.original.deleted
        assert standin.channel_messages(world.channel_id) == []


async def test_slash_command_in_direct_messages(world: World) -> None:
    standin = world.standin
    bot = make_bot()
    seen: list[tuple[Any, int]] = []

    @bot.tree.command(name="whoami", description="Who am I")
    @app_commands.allowed_contexts(guilds=True, dms=True)
    async def whoami(interaction: discord.Interaction) -> None:
        seen.append((interaction.guild, interaction.user.id))
        await interaction.response.send_message(f"you are {interaction.user.name}")

    async with connected(bot, standin):
        await bot.tree.sync()
        dm = standin.open_dm(world.alice_id)
        interaction_id = await standin.invoke_command(None, dm["id"], world.alice_id, "whoami")
        record = await standin.wait_for_interaction_response(interaction_id)
        assert seen == [(None, world.alice_id)]
        assert record.original is not None
        assert record.original.content == "you are alice"
        assert [m.content for m in standin.channel_messages(dm["id"])] == ["you are alice"]
