"""The stand-in's shared core: state changes paired with the gateway events Discord sends for them.

REST handlers, interaction handling and test helpers all change the world through here, so every
change reaches the bot the same way, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from .faults import FaultInjector
from .gateway import Gateway
from .models import JSON, Attachment, Channel, Message
from .observe import Changes, RequestLog
from .state import StandInState, emoji_key

log = logging.getLogger(__name__)


class StandInCore:
    """Owns the state, the gateway, the request log and the fault injector."""

    def __init__(
        self,
        *,
        state: StandInState,
        token: str,
        gateway_url: Callable[[], str],
        heartbeat_interval_ms: int,
    ) -> None:
        self.state = state
        self.token = token
        self.changes = Changes()
        self.requests = RequestLog(self.changes)
        self.faults = FaultInjector()
        self.gateway = Gateway(
            state=state,
            token=token,
            changes=self.changes,
            url=gateway_url,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self._outbox: asyncio.Queue[tuple[str, JSON, asyncio.Future[None] | None]] | None = None
        self._pump: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- ordered dispatch

    def start(self) -> None:
        self._outbox = asyncio.Queue()
        self._pump = asyncio.create_task(self._run_pump(self._outbox), name="discord-standin-dispatch")

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        self._pump = None
        self._outbox = None

    async def _run_pump(self, outbox: asyncio.Queue[tuple[str, JSON, asyncio.Future[None] | None]]) -> None:
        while True:
            event, data, done = await outbox.get()
            try:
                await self.gateway.dispatch(event, data)
            except Exception as exc:  # keep the pump alive whatever one event does
                log.exception("dispatching %s failed", event)
                if done is not None and not done.done():
                    done.set_exception(exc)
                continue
            if done is not None and not done.done():
                done.set_result(None)

    def dispatch_soon(self, event: str, data: JSON) -> None:
        """Queue a gateway event from synchronous code; it goes out after everything queued before."""
        if self._outbox is not None:
            self._outbox.put_nowait((event, data, None))
        self.changes.notify()

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send a gateway event after everything queued before it, and wait until it went out."""
        if self._outbox is None:
            self.changes.notify()
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outbox.put_nowait((event, data, done))
        await done

    # ----------------------------------------------------------------- messages

    async def post_message(
        self, channel_id: int, author_id: int, content: str = "", *, visible: bool = True, **fields: object
    ) -> Message:
        """Create a message and dispatch MESSAGE_CREATE (ephemeral ones, ``visible=False``, are not dispatched)."""
        msg = self.state.create_message(channel_id, author_id, content, visible=visible, **fields)  # type: ignore[arg-type]
        if visible:
            await self.dispatch("MESSAGE_CREATE", self.state.message_payload(msg))
        else:
            self.changes.notify()
        return msg

    async def edit_message(
        self, msg: Message, changes: JSON, *, new_attachments: list[Attachment] | None = None
    ) -> Message:
        self.state.edit_message(msg, changes, new_attachments=new_attachments)
        if msg.ephemeral:
            self.changes.notify()
        else:
            await self.dispatch("MESSAGE_UPDATE", self.state.message_payload(msg))
        return msg

    async def delete_message(self, msg: Message) -> None:
        self.state.delete_message(msg)
        if msg.ephemeral:
            self.changes.notify()
            return
        data: JSON = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        await self.dispatch("MESSAGE_DELETE", data)

    async def add_reaction(self, msg: Message, user_id: int, emoji: JSON, *, burst: bool = False) -> None:
        if not self.state.add_reaction(msg, user_id, emoji, burst=burst):
            return
        event = self._reaction_event(msg, user_id, emoji, with_member=True, burst=burst)
        await self.dispatch("MESSAGE_REACTION_ADD", event)

    async def remove_reaction(self, msg: Message, user_id: int, emoji: JSON, *, burst: bool = False) -> None:
        if not self.state.remove_reaction(msg, user_id, emoji, burst=burst):
            return
        event = self._reaction_event(msg, user_id, emoji, with_member=False, burst=burst)
        await self.dispatch("MESSAGE_REACTION_REMOVE", event)

    async def clear_reactions(self, msg: Message, emoji: JSON | None = None) -> None:
        data: JSON = {"channel_id": str(msg.channel_id), "message_id": str(msg.id)}
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        if emoji is None:
            msg.reactions.clear()
            await self.dispatch("MESSAGE_REACTION_REMOVE_ALL", data)
        else:
            msg.reactions.pop(emoji_key(emoji), None)
            await self.dispatch("MESSAGE_REACTION_REMOVE_EMOJI", data | {"emoji": emoji})

    def _reaction_event(
        self, msg: Message, user_id: int, emoji: JSON, *, with_member: bool, burst: bool = False
    ) -> JSON:
        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(msg.channel_id),
            "message_id": str(msg.id),
            "emoji": emoji,
            "burst": burst,
            "type": 1 if burst else 0,  # Discord's reaction types: 0 normal, 1 burst (a super reaction)
        }
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
            if with_member and user_id in self.state.guilds[msg.guild_id].members:
                data["member"] = self.state.member_payload(msg.guild_id, user_id)
        if with_member:
            data["message_author_id"] = str(msg.author_id)
            data["burst_colors"] = []
        return data

    # ----------------------------------------------------------------- channels and threads

    async def create_thread(
        self,
        parent_id: int,
        name: str,
        *,
        owner_id: int,
        type: int = 11,
        message_id: int | None = None,
        auto_archive_duration: int = 1440,
    ) -> Channel:
        thread = self.state.create_thread(
            parent_id,
            name,
            owner_id=owner_id,
            type=type,
            message_id=message_id,
            auto_archive_duration=auto_archive_duration,
        )
        payload = self.state.channel_payload(thread)
        payload["newly_created"] = True
        await self.dispatch("THREAD_CREATE", payload)
        if message_id is not None:
            starter = self.state.messages[message_id]
            await self.dispatch("MESSAGE_UPDATE", self.state.message_payload(starter))
        return thread

    async def update_channel(self, channel: Channel, changes: JSON) -> Channel:
        for key in ("name", "topic", "nsfw", "position"):
            if key in changes:
                setattr(channel, key, changes[key])
        if channel.type.is_thread:
            metadata = changes.get("thread_metadata", changes)
            for key in ("archived", "locked", "auto_archive_duration"):
                if key in metadata:
                    setattr(channel, key, metadata[key])
            await self.dispatch("THREAD_UPDATE", self.state.channel_payload(channel))
        else:
            await self.dispatch("CHANNEL_UPDATE", self.state.channel_payload(channel))
        return channel
