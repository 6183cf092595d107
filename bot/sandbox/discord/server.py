"""``DiscordStandIn``: the facade tests use — lifecycle, world setup, member actions, interactions,
faults and observation — over an aiohttp server speaking Discord's REST API and gateway.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from .actions import AttachmentSpec, Snowflake, WorldActions
from .commands import CommandRegistry, CommandRoutes
from .core import StandInCore
from .discord_py import DiscordPyTarget
from .faults import Fault
from .gateway import DispatchedEvent
from .interaction_payloads import OptionValues
from .interactions import InteractionHub, InteractionRecord
from .models import JSON, ChannelType, Message
from .observe import RecordedRequest
from .permissions import DEFAULT_BOT_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS, OVERWRITE_ROLE
from .rest import API_PREFIX, CoreRoutes, make_middleware
from .rest_channels import ChannelRoutes
from .rest_guilds import GuildRoutes
from .state import StandInState


class DiscordStandIn:
    """A wire-level Discord for the real discord.py: REST under ``api_base``, gateway at ``gateway_url``.

    Usage::

        async with DiscordStandIn(bot_username="culturebot") as standin:
            with standin.configure_discord_py():
                guild = standin.add_guild("Test guild")
                await bot.start(standin.token)
    """

    def __init__(
        self,
        bot_username: str = "culturebot",
        *,
        token: str | None = None,
        heartbeat_interval_ms: int = 5000,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        interaction_response_timeout: float = 3.0,
    ) -> None:
        self.state = StandInState(bot_username=bot_username, bot_permissions=bot_permissions)
        self.token = token or _make_token(self.state.bot.id)
        self.core = StandInCore(
            state=self.state,
            token=self.token,
            gateway_url=lambda: self.gateway_url,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self.command_registry = CommandRegistry(self.state.application_id, self.state.ids)
        self.interactions = InteractionHub(
            self.core, self.command_registry, response_timeout=interaction_response_timeout
        )
        self.world = WorldActions(self.core)
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._targets: list[DiscordPyTarget] = []

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        if self._runner is not None:
            raise RuntimeError("the stand-in is already running")
        app = web.Application(middlewares=[make_middleware(self.core)], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self.core.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_attachment)
        CoreRoutes(self.core, lambda: self.gateway_url).register(app.router)
        ChannelRoutes(self.core).register(app.router)
        GuildRoutes(self.core).register(app.router)
        CommandRoutes(self.command_registry, self._bot_in_guild).register(app.router)
        self.interactions.register(app.router)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._host = host
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self._port = int(sockets[0].getsockname()[1]) if sockets else port
        self.state.base_url = self.base_url
        self.core.start()
        return self

    async def stop(self) -> None:
        for target in self._targets:
            target.restore()
        self._targets.clear()
        if self._runner is None:
            return
        await self.core.gateway.shutdown()
        await self.core.stop()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://{self._host}:{self._port}/"

    @property
    def bot_user_id(self) -> int:
        return self.state.bot.id

    @property
    def application_id(self) -> int:
        return self.state.application_id

    def configure_discord_py(self) -> DiscordPyTarget:
        """Point discord.py here now; undo via the returned context manager or ``restore()`` (or ``stop()``)."""
        if self._runner is None:
            raise RuntimeError("start the stand-in before pointing discord.py at it")
        target = DiscordPyTarget(self.api_base, self.gateway_url)
        self._targets.append(target)
        return target

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        attachment = self.state.attachments.get(int(request.match_info["attachment_id"]))
        if attachment is None:
            raise web.HTTPNotFound()
        return web.Response(body=attachment.data, content_type=attachment.content_type or "application/octet-stream")

    # ----------------------------------------------------------------- world setup

    def add_user(self, username: str, *, bot: bool = False, user_id: Snowflake | None = None) -> JSON:
        return self.world.add_user(username, bot=bot, user_id=user_id)

    def add_guild(
        self, name: str, owner_id: Snowflake | None = None, *, everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS
    ) -> JSON:
        """A guild with @everyone, an owner (created unless given) and the bot with its managed role."""
        return self.world.add_guild(name, owner_id, everyone_permissions=everyone_permissions)

    def add_channel(
        self,
        guild_id: Snowflake,
        name: str,
        type: int = ChannelType.GUILD_TEXT,
        parent_id: Snowflake | None = None,
        *,
        topic: str | None = None,
    ) -> JSON:
        return self.world.add_channel(guild_id, name, type, parent_id, topic=topic)

    def remove_bot(self, guild_id: Snowflake) -> None:
        """Remove the bot from a guild (GUILD_DELETE is sent; a new session's READY no longer lists it)."""
        self.world.remove_bot(guild_id)

    def delete_channel(self, channel_id: Snowflake) -> JSON:
        """Delete a guild channel (CHANNEL_DELETE is sent); REST calls naming it then get Unknown Channel."""
        return self.world.delete_channel(channel_id)

    def delete_thread(self, thread_id: Snowflake) -> JSON:
        """Delete a thread (THREAD_DELETE is sent, and no MESSAGE_DELETE for its messages, as on Discord)."""
        return self.world.delete_thread(thread_id)

    def add_role(
        self, guild_id: Snowflake, name: str, permissions: int = 0, *, mentionable: bool = False, color: int = 0
    ) -> JSON:
        return self.world.add_role(guild_id, name, permissions, mentionable=mentionable, color=color)

    def add_member(
        self,
        guild_id: Snowflake,
        username: str,
        roles: Sequence[Snowflake] = (),
        user_id: Snowflake | None = None,
        bot: bool = False,
        *,
        nick: str | None = None,
    ) -> JSON:
        return self.world.add_member(guild_id, username, roles, user_id, bot, nick=nick)

    def set_member_roles(self, guild_id: Snowflake, user_id: Snowflake, roles: Sequence[Snowflake]) -> JSON:
        return self.world.set_member_roles(guild_id, user_id, roles)

    def delete_role(self, guild_id: Snowflake, role_id: Snowflake) -> None:
        """Delete a role (GUILD_ROLE_DELETE is sent): members lose it, and channel overwrites for it go."""
        self.world.delete_role(guild_id, role_id)

    def set_role_permissions(self, guild_id: Snowflake, role_id: Snowflake, permissions: int) -> JSON:
        return self.world.set_role_permissions(guild_id, role_id, permissions)

    def set_permission_overwrite(
        self, channel_id: Snowflake, target_id: Snowflake, *, allow: int = 0, deny: int = 0, type: int = OVERWRITE_ROLE
    ) -> JSON:
        return self.world.set_permission_overwrite(channel_id, target_id, allow=allow, deny=deny, type=type)

    def open_dm(self, user_id: Snowflake) -> JSON:
        """The DM channel between the bot and a user (made on first use), e.g. to invoke commands in DMs."""
        return self.state.channel_payload(self.state.open_dm(int(user_id)))

    def channel_permissions(self, channel_id: Snowflake, user_id: Snowflake) -> int:
        """The permission bits of a user in a channel, computed as Discord does."""
        return self.state.channel_permissions(int(channel_id), int(user_id))

    # ----------------------------------------------------------------- member actions

    async def send_message(
        self,
        channel_id: Snowflake,
        author_id: Snowflake,
        content: str = "",
        reply_to: Snowflake | None = None,
        attachments: Sequence[AttachmentSpec] | None = None,
        *,
        embeds: list[JSON] | None = None,
        check_permissions: bool = True,
    ) -> JSON:
        return await self.world.send_message(
            channel_id, author_id, content, reply_to, attachments, embeds=embeds, check_permissions=check_permissions
        )

    async def send_dm(
        self, user_id: Snowflake, content: str, attachments: Sequence[AttachmentSpec] | None = None
    ) -> JSON:
        return await self.world.send_dm(user_id, content, attachments)

    async def edit_message(self, channel_id: Snowflake, message_id: Snowflake, content: str) -> JSON:
        return await self.world.edit_message(channel_id, message_id, content)

    async def delete_message(self, channel_id: Snowflake, message_id: Snowflake) -> None:
        await self.world.delete_message(channel_id, message_id)

    async def add_reaction(
        self, channel_id: Snowflake, message_id: Snowflake, user_id: Snowflake, emoji: str, *, burst: bool = False
    ) -> None:
        """A member's reaction; `burst` makes it a super reaction (Discord lists those users apart)."""
        await self.world.add_reaction(channel_id, message_id, user_id, emoji, burst=burst)

    async def remove_reaction(
        self, channel_id: Snowflake, message_id: Snowflake, user_id: Snowflake, emoji: str, *, burst: bool = False
    ) -> None:
        await self.world.remove_reaction(channel_id, message_id, user_id, emoji, burst=burst)

    async def create_thread(
        self, channel_id: Snowflake, name: str, owner_id: Snowflake, message_id: Snowflake | None = None
    ) -> JSON:
        return await self.world.create_thread(channel_id, name, owner_id, message_id)

    def _bot_in_guild(self, guild_id: int) -> bool:
        guild = self.state.guilds.get(guild_id)
        return guild is not None and self.state.bot.id in guild.members

    async def update_channel(self, channel_id: Snowflake, **changes: Any) -> JSON:
        return await self.world.update_channel(channel_id, **changes)

    async def dispatch(self, event_name: str, data: JSON) -> None:
        """Send a raw gateway event as-is."""
        await self.core.dispatch(event_name, data)

    # ----------------------------------------------------------------- interactions

    async def invoke_command(
        self,
        guild_id: Snowflake | None,
        channel_id: Snowflake,
        user_id: Snowflake,
        name: str,
        options: OptionValues = None,
        *,
        command_type: int = 1,
        target_id: Snowflake | None = None,
        locale: str = "en-US",
    ) -> int:
        """Run ``/name`` (``name`` may be ``"group sub"``); options are typed from the synced definitions.

        ``options`` is a mapping name → value (users/channels/roles by id, attachments as
        ``FileOption`` or ``(filename, bytes)``) or a ready list of option payloads. Returns the interaction id.
        """
        return await self.interactions.invoke_command(
            _opt_int(guild_id),
            int(channel_id),
            int(user_id),
            name,
            options,
            command_type=command_type,
            target_id=_opt_int(target_id),
            locale=locale,
        )

    async def autocomplete(
        self,
        guild_id: Snowflake | None,
        channel_id: Snowflake,
        user_id: Snowflake,
        name: str,
        options: OptionValues,
        focused: str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[JSON]:
        """Ask for autocomplete on option ``focused`` and return the bot's choices."""
        interaction_id = await self.interactions.autocomplete(
            _opt_int(guild_id), int(channel_id), int(user_id), name, options, focused
        )
        record = await self.wait_for_interaction_response(interaction_id, timeout=timeout)
        return list(record.choices or [])

    async def click_button(
        self, channel_id: Snowflake, message_id: Snowflake, user_id: Snowflake, custom_id: str
    ) -> int:
        """Click a button that is on the message; the interaction carries the full message. Returns its id."""
        return await self.interactions.click_component(int(channel_id), int(message_id), int(user_id), custom_id)

    async def select_option(
        self,
        channel_id: Snowflake,
        message_id: Snowflake,
        user_id: Snowflake,
        custom_id: str,
        values: Sequence[str],
    ) -> int:
        return await self.interactions.click_component(
            int(channel_id), int(message_id), int(user_id), custom_id, values=values
        )

    async def submit_modal(
        self,
        interaction_id: int | InteractionRecord,
        user_id: Snowflake | None = None,
        custom_id: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> int:
        """Submit the modal the bot opened in answer to ``interaction_id``; ``values`` maps input ids to text."""
        source = interaction_id.id if isinstance(interaction_id, InteractionRecord) else int(interaction_id)
        return await self.interactions.submit_modal(
            source, values or {}, user_id=_opt_int(user_id), custom_id=custom_id
        )

    def interaction(self, interaction_id: int) -> InteractionRecord:
        return self.interactions.record(interaction_id)

    async def wait_for_interaction_response(self, interaction_id: int, timeout: float = 5.0) -> InteractionRecord:  # noqa: ASYNC109
        """Wait until the bot answered the interaction (message, defer, modal, update or choices)."""
        record = self.interactions.record(interaction_id)
        return await self.core.changes.wait_for(
            lambda: record if record.responded else None, timeout, f"a response to interaction {interaction_id}"
        )

    async def wait_for_followup(self, interaction_id: int, count: int = 1, timeout: float = 5.0) -> Message:  # noqa: ASYNC109
        """Wait for the ``count``-th followup of an interaction and return it."""
        record = self.interactions.record(interaction_id)
        return await self.core.changes.wait_for(
            lambda: record.followups[count - 1] if len(record.followups) >= count else None,
            timeout,
            f"followup #{count} of interaction {interaction_id}",
        )

    def commands(self, guild_id: Snowflake | None = None) -> list[JSON]:
        """The application commands synced globally (``None``) or for a guild."""
        return self.command_registry.commands(_opt_int(guild_id))

    # ----------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int = 429,
        retry_after: float = 0.2,
        count: int = 1,
        global_: bool = False,
        json_match: dict[str, Any] | None = None,
    ) -> Fault:
        """Answer the next ``count`` matching REST calls with ``status`` (429 as Discord sends it, or 5xx), or,
        with ``status=0`` (`faults.DROP`), close their connections without an answer; with ``json_match``, only
        calls whose JSON body holds those keys and values."""
        return self.core.faults.add(
            Fault(
                method=method,
                path_regex=path_regex,
                status=status,
                retry_after=retry_after,
                count=count,
                global_=global_,
                json_match=json_match,
            )
        )

    def fail_after(self, method: str, path_regex: str, status: int = 500, count: int = 1) -> Fault:
        """Carry out the next ``count`` matching REST calls, then answer each with ``status`` as if it had failed
        (Discord sometimes makes the message and then answers 500 or 504; discord.py retries those by itself)."""
        return self.core.faults.add(Fault(method=method, path_regex=path_regex, status=status, count=count, after=True))

    def answer_late(
        self, method: str, path_regex: str, seconds: float, count: int = 1, json_match: dict[str, Any] | None = None
    ) -> Fault:
        """Carry out the next ``count`` matching REST calls, but answer each ``seconds`` late (the message is made,
        the channel shows it, and the bot hears of it only then)."""
        return self.core.faults.add(
            Fault(method=method, path_regex=path_regex, count=count, json_match=json_match, late=seconds)
        )

    async def close_gateway(self, code: int = 4000) -> int:
        """Close the bot's gateway connection; with a resumable code discord.py reconnects and RESUMEs."""
        return await self.core.gateway.close_connections(code)

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Send op 9 so the bot re-IDENTIFYs (or RESUMEs when ``resumable``)."""
        await self.core.gateway.invalidate_sessions(resumable=resumable)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT."""
        await self.core.gateway.send_reconnect()

    # ----------------------------------------------------------------- observation

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST call so far (injected faults included, marked ``fault=True``)."""
        return self.core.requests.requests

    def find_requests(
        self, method: str, path_regex: str, predicate: Callable[[RecordedRequest], bool] | None = None
    ) -> list[RecordedRequest]:
        return self.core.requests.find(method, path_regex, predicate)

    async def wait_for_request(
        self,
        method: str,
        path_regex: str,
        timeout: float = 5.0,  # noqa: ASYNC109
        predicate: Callable[[RecordedRequest], bool] | None = None,
        *,
        since: int = 0,
    ) -> RecordedRequest:
        """The first answered (non-fault) call matching, among requests from index ``since`` on."""

        def check() -> RecordedRequest | None:
            for request in self.core.requests.requests[since:]:
                if (
                    not request.fault
                    and request.matches(method, path_regex)
                    and (predicate is None or predicate(request))
                ):
                    return request
            return None

        return await self.core.changes.wait_for(check, timeout, f"{method} {path_regex}")

    @property
    def identified(self) -> Any:
        """An ``asyncio.Event`` set once the bot has IDENTIFIED."""
        return self.core.gateway.identified

    @property
    def identify_count(self) -> int:
        return self.core.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.core.gateway.resume_count

    @property
    def identify_payloads(self) -> list[JSON]:
        """The ``d`` of every IDENTIFY received (token, intents, properties, shard…)."""
        return self.core.gateway.identify_payloads

    async def wait_until_ready(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has identified and a gateway session is connected."""
        await self.core.changes.wait_for(
            lambda: self.identify_count > 0 and any(s.ws is not None for s in self.core.gateway.sessions.values()),
            timeout,
            "the bot to identify",
        )

    async def wait_for_resume(self, count: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self.core.changes.wait_for(lambda: self.resume_count >= count, timeout, f"RESUME #{count}")

    async def wait_for_identify(self, count: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self.core.changes.wait_for(lambda: self.identify_count >= count, timeout, f"IDENTIFY #{count}")

    def events(self, name: str | None = None) -> list[DispatchedEvent]:
        """Gateway dispatches sent (or buffered for resume), optionally only those named ``name``."""
        return self.core.gateway.events(name)

    def message(self, message_id: Snowflake) -> Message:
        """Any stored message by id (deleted and ephemeral ones included)."""
        return self.state.messages[int(message_id)]

    def channel_messages(self, channel_id: Snowflake) -> list[Message]:
        """Visible (non-deleted, non-ephemeral) messages of a channel, oldest first, each with ``edits``."""
        return self.state.visible_messages(int(channel_id))

    def bot_messages(self, channel_id: Snowflake) -> list[Message]:
        return [m for m in self.channel_messages(channel_id) if m.author_id == self.bot_user_id]

    async def wait_for_message(
        self,
        channel_id: Snowflake,
        predicate: Callable[[Message], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Message:
        """The first visible message in the channel matching ``predicate`` (default: sent by the bot)."""
        check = predicate or (lambda m: m.author_id == self.bot_user_id)
        return await self.core.changes.wait_for(
            lambda: next((m for m in self.channel_messages(channel_id) if check(m)), None),
            timeout,
            f"a message in channel {channel_id}",
        )

    async def wait_for(self, check: Callable[[], Any], timeout: float = 5.0, what: str = "a condition") -> Any:  # noqa: ASYNC109
        """Wait until ``check()`` returns something truthy (re-checked after every change) and return it."""
        return await self.core.changes.wait_for(check, timeout, what)


def _opt_int(value: Snowflake | None) -> int | None:
    return None if value is None else int(value)


def _make_token(bot_id: int) -> str:
    """A token shaped like Discord's: base64 user id, timestamp part, HMAC part."""
    head = base64.urlsafe_b64encode(str(bot_id).encode()).decode().rstrip("=")
    return f"{head}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"
