"""Channel REST routes: messages, history, edits, deletes, reactions, typing, threads and pins.

Each call checks the bot's permissions in the channel like Discord, changes the state and
dispatches the gateway event Discord would send.
"""

from __future__ import annotations

import time
from urllib.parse import unquote

from aiohttp import web

from . import errors
from .core import StandInCore
from .http_util import ParsedBody, body_of, json_response, no_content, snowflake
from .message_input import new_message_fields, uploads_as_attachments, validate_lengths, validate_new_message
from .models import ChannelType, Message
from .permissions import Permission
from .rest import API_PREFIX
from .state import parse_emoji


class ChannelRoutes:
    def __init__(self, core: StandInCore) -> None:
        self.core = core
        self.state = core.state

    @property
    def bot_id(self) -> int:
        return self.state.bot.id

    def register(self, router: web.UrlDispatcher) -> None:
        c = API_PREFIX + "/channels/{channel_id}"
        m = c + "/messages/{message_id}"
        router.add_get(c, self.get_channel)
        router.add_patch(c, self.patch_channel)
        router.add_get(c + "/messages", self.history)
        router.add_post(c + "/messages", self.create_message)
        router.add_post(c + "/messages/bulk-delete", self.bulk_delete)
        router.add_get(m, self.get_message)
        router.add_patch(m, self.edit_message)
        router.add_delete(m, self.delete_message)
        router.add_put(m + "/reactions/{emoji}/@me", self.add_own_reaction)
        router.add_delete(m + "/reactions/{emoji}/@me", self.remove_own_reaction)
        router.add_delete(m + "/reactions/{emoji}/{user_id}", self.remove_user_reaction)
        router.add_get(m + "/reactions/{emoji}", self.reaction_users)
        router.add_delete(m + "/reactions/{emoji}", self.clear_emoji)
        router.add_delete(m + "/reactions", self.clear_reactions)
        router.add_post(m + "/threads", self.thread_from_message)
        router.add_post(c + "/threads", self.thread_without_message)
        router.add_put(c + "/thread-members/@me", self.join_thread)
        router.add_delete(c + "/thread-members/@me", self.leave_thread)
        router.add_post(c + "/typing", self.typing)
        router.add_get(c + "/pins", self.pins)
        router.add_get(c + "/messages/pins", self.pins)
        router.add_put(c + "/pins/{message_id}", self.pin)
        router.add_put(c + "/messages/pins/{message_id}", self.pin)
        router.add_delete(c + "/pins/{message_id}", self.unpin)
        router.add_delete(c + "/messages/pins/{message_id}", self.unpin)

    # ----------------------------------------------------------------- channels

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self.state.channel(snowflake(request, "channel_id"))
        self.state.require(channel.id, self.bot_id)
        return json_response(self.state.channel_payload(channel))

    async def patch_channel(self, request: web.Request) -> web.Response:
        channel = self.state.channel(snowflake(request, "channel_id"))
        body = body_of(request).obj
        if channel.type.is_thread:
            if channel.owner_id != self.bot_id:
                self.state.require(channel.id, self.bot_id, Permission.MANAGE_THREADS)
            # Discord edits an archived thread only in the request that unarchives it.
            if channel.archived and body.get("archived") is not False:
                raise errors.ApiError(400, 50083, "Thread is archived")
        else:
            self.state.require(channel.id, self.bot_id, Permission.MANAGE_CHANNELS)
        await self.core.update_channel(channel, body)
        return json_response(self.state.channel_payload(channel))

    # ----------------------------------------------------------------- messages

    async def history(self, request: web.Request) -> web.Response:
        channel_id = snowflake(request, "channel_id")
        self.state.require(channel_id, self.bot_id, Permission.READ_MESSAGE_HISTORY)
        messages = self.state.visible_messages(channel_id)
        limit = max(1, min(int(request.query.get("limit", 50)), 100))
        before = request.query.get("before")
        after = request.query.get("after")
        around = request.query.get("around")
        if around is not None:
            pivot = int(around)
            older = [m for m in messages if m.id <= pivot][-((limit + 1) // 2) :]
            newer = [m for m in messages if m.id > pivot][: limit // 2]
            chosen = older + newer
        elif after is not None:
            chosen = [m for m in messages if m.id > int(after)][:limit]
        else:
            if before is not None:
                messages = [m for m in messages if m.id < int(before)]
            chosen = messages[-limit:]
        chosen.sort(key=lambda m: m.id, reverse=True)  # Discord returns newest first
        return json_response([self.state.message_payload(m) for m in chosen])

    async def get_message(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        self.state.require(msg.channel_id, self.bot_id, Permission.READ_MESSAGE_HISTORY)
        return json_response(self.state.message_payload(msg))

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self.state.channel(snowflake(request, "channel_id"))
        body = body_of(request)
        send = Permission.SEND_MESSAGES_IN_THREADS if channel.type.is_thread else Permission.SEND_MESSAGES
        needed = [send]
        if body.files:
            needed.append(Permission.ATTACH_FILES)
        fields = new_message_fields(body)
        if fields["message_reference"]:
            needed.append(Permission.READ_MESSAGE_HISTORY)
        self.state.require(channel.id, self.bot_id, *needed)
        if channel.type == ChannelType.GUILD_FORUM:
            raise errors.ApiError(400, 50008, "Cannot send messages in a non-text channel")
        if channel.archived:
            raise errors.ApiError(400, 50083, "Thread is archived")
        attachments = uploads_as_attachments(self.state, channel.id, body)
        validate_new_message(fields, attachments)
        if body.obj.get("enforce_nonce") and fields["nonce"] is not None:
            # Discord's `enforce_nonce`: a message the same author sent with this nonce a moment ago is returned
            # instead of making another (a retried request does not post twice).
            earlier = self.state.message_with_nonce(channel.id, self.bot_id, fields["nonce"])
            if earlier is not None:
                return json_response(self.state.message_payload(earlier))
        msg = await self.core.post_message(channel.id, self.bot_id, attachments=attachments, **fields)
        return json_response(self.state.message_payload(msg))

    async def edit_message(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        body = body_of(request)
        changes = dict(body.obj)
        if msg.author_id != self.bot_id:
            # Others' messages: only SUPPRESS_EMBEDS may change, with MANAGE_MESSAGES.
            self.state.require(msg.channel_id, self.bot_id, Permission.MANAGE_MESSAGES)
            changes = {k: v for k, v in changes.items() if k == "flags"}
        validate_lengths(changes)
        new_attachments = uploads_as_attachments(self.state, msg.channel_id, body)
        await self.core.edit_message(msg, changes, new_attachments=new_attachments)
        return json_response(self.state.message_payload(msg))

    async def delete_message(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        if msg.author_id != self.bot_id:
            self.state.require(msg.channel_id, self.bot_id, Permission.MANAGE_MESSAGES)
        await self.core.delete_message(msg)
        return no_content()

    async def bulk_delete(self, request: web.Request) -> web.Response:
        channel_id = snowflake(request, "channel_id")
        self.state.require(channel_id, self.bot_id, Permission.MANAGE_MESSAGES)
        ids = [int(i) for i in body_of(request).obj.get("messages") or []]
        if not 2 <= len(ids) <= 100:
            raise errors.invalid_form("messages must hold 2 to 100 ids")
        deleted = []
        for message_id in ids:
            msg = self.state.messages.get(message_id)
            if msg is not None and msg.channel_id == channel_id and not msg.deleted:
                self.state.delete_message(msg)
                deleted.append(str(message_id))
        channel = self.state.channel(channel_id)
        data = {"ids": deleted, "channel_id": str(channel_id)}
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
        await self.core.dispatch("MESSAGE_DELETE_BULK", data)
        return no_content()

    # ----------------------------------------------------------------- reactions

    async def add_own_reaction(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        emoji = self._emoji(request)
        already = any(r.emoji.get("name") == emoji["name"] for r in msg.reactions.values())
        needed = [Permission.READ_MESSAGE_HISTORY]
        if not already:
            needed.append(Permission.ADD_REACTIONS)
        self.state.require(msg.channel_id, self.bot_id, *needed)
        await self.core.add_reaction(msg, self.bot_id, emoji)
        return no_content()

    async def remove_own_reaction(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        await self.core.remove_reaction(msg, self.bot_id, self._emoji(request))
        return no_content()

    async def remove_user_reaction(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        user_id = snowflake(request, "user_id")
        if user_id != self.bot_id:
            self.state.require(msg.channel_id, self.bot_id, Permission.MANAGE_MESSAGES)
        await self.core.remove_reaction(msg, user_id, self._emoji(request))
        return no_content()

    async def reaction_users(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        emoji = self._emoji(request)
        key = str(emoji["id"]) if emoji.get("id") else str(emoji["name"])
        reaction = msg.reactions.get(key)
        # Discord lists a reaction's users by id, which is what `after` pages through; normal reactions unless
        # `type=1` asks for super ("burst") reactions.
        burst = request.query.get("type") == "1"
        ids = [] if reaction is None else reaction.burst_user_ids if burst else reaction.user_ids
        users = [self.state.users[u].payload() for u in sorted(ids)]
        after = request.query.get("after")
        if after is not None:
            users = [u for u in users if int(u["id"]) > int(after)]
        limit = int(request.query.get("limit", 25))
        return json_response(users[:limit])

    async def clear_emoji(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        self.state.require(msg.channel_id, self.bot_id, Permission.MANAGE_MESSAGES)
        await self.core.clear_reactions(msg, self._emoji(request))
        return no_content()

    async def clear_reactions(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        self.state.require(msg.channel_id, self.bot_id, Permission.MANAGE_MESSAGES)
        await self.core.clear_reactions(msg)
        return no_content()

    # ----------------------------------------------------------------- threads

    async def thread_from_message(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        body = body_of(request).obj
        self.state.require(msg.channel_id, self.bot_id, Permission.CREATE_PUBLIC_THREADS)
        thread = await self.core.create_thread(
            msg.channel_id,
            str(body.get("name") or "thread"),
            owner_id=self.bot_id,
            message_id=msg.id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        return json_response(self.state.channel_payload(thread))

    async def thread_without_message(self, request: web.Request) -> web.Response:
        parent = self.state.channel(snowflake(request, "channel_id"))
        body = body_of(request)
        data = body.obj
        thread_type = int(data.get("type") or ChannelType.PUBLIC_THREAD)
        permission = (
            Permission.CREATE_PRIVATE_THREADS
            if thread_type == ChannelType.PRIVATE_THREAD
            else Permission.CREATE_PUBLIC_THREADS
        )
        needed = [permission]
        if parent.type == ChannelType.GUILD_FORUM:
            needed = [Permission.SEND_MESSAGES]
        self.state.require(parent.id, self.bot_id, *needed)
        thread = await self.core.create_thread(
            parent.id,
            str(data.get("name") or "thread"),
            owner_id=self.bot_id,
            type=thread_type,
            auto_archive_duration=int(data.get("auto_archive_duration") or 1440),
        )
        payload = self.state.channel_payload(thread)
        if parent.type == ChannelType.GUILD_FORUM:
            starter = data.get("message") or {}
            inner = ParsedBody(json=starter, files=body.files)
            fields = new_message_fields(inner)
            attachments = uploads_as_attachments(self.state, thread.id, inner)
            validate_new_message(fields, attachments)
            msg = await self.core.post_message(thread.id, self.bot_id, attachments=attachments, **fields)
            payload["message"] = self.state.message_payload(msg)
        return json_response(payload)

    async def join_thread(self, request: web.Request) -> web.Response:
        thread = self.state.channel(snowflake(request, "channel_id"))
        if self.bot_id not in thread.member_ids:
            thread.member_ids.append(self.bot_id)
        return no_content()

    async def leave_thread(self, request: web.Request) -> web.Response:
        thread = self.state.channel(snowflake(request, "channel_id"))
        if self.bot_id in thread.member_ids:
            thread.member_ids.remove(self.bot_id)
        return no_content()

    # ----------------------------------------------------------------- typing and pins

    async def typing(self, request: web.Request) -> web.Response:
        channel = self.state.channel(snowflake(request, "channel_id"))
        send = Permission.SEND_MESSAGES_IN_THREADS if channel.type.is_thread else Permission.SEND_MESSAGES
        self.state.require(channel.id, self.bot_id, send)
        data = {"channel_id": str(channel.id), "user_id": str(self.bot_id), "timestamp": int(time.time())}
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
            data["member"] = self.state.member_payload(channel.guild_id, self.bot_id)
        await self.core.dispatch("TYPING_START", data)
        return no_content()

    async def pins(self, request: web.Request) -> web.Response:
        channel_id = snowflake(request, "channel_id")
        pinned = [m for m in self.state.visible_messages(channel_id) if m.pinned]
        if request.path.endswith("/messages/pins"):
            items = [{"pinned_at": m.timestamp, "message": self.state.message_payload(m)} for m in reversed(pinned)]
            return json_response({"items": items, "has_more": False})
        return json_response([self.state.message_payload(m) for m in reversed(pinned)])

    async def pin(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        self.state.require(msg.channel_id, self.bot_id, Permission.MANAGE_MESSAGES)
        msg.pinned = True
        await self.core.dispatch("MESSAGE_UPDATE", self.state.message_payload(msg))
        return no_content()

    async def unpin(self, request: web.Request) -> web.Response:
        msg = self._message(request)
        self.state.require(msg.channel_id, self.bot_id, Permission.MANAGE_MESSAGES)
        msg.pinned = False
        await self.core.dispatch("MESSAGE_UPDATE", self.state.message_payload(msg))
        return no_content()

    # ----------------------------------------------------------------- helpers

    def _message(self, request: web.Request) -> Message:
        return self.state.message(snowflake(request, "channel_id"), snowflake(request, "message_id"))

    def _emoji(self, request: web.Request) -> dict[str, object]:
        return parse_emoji(unquote(request.match_info["emoji"]))
