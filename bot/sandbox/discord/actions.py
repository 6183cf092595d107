"""What tests make the simulated world do: create guilds, channels, roles and members, and act as
members (send, edit and delete messages, react, open threads). Each action changes the state and
dispatches the gateway event Discord would send; creations return the Discord payload as a dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import errors
from .core import StandInCore
from .interaction_payloads import FileOption
from .models import JSON, Attachment, ChannelType
from .permissions import DEFAULT_EVERYONE_PERMISSIONS, OVERWRITE_ROLE, Overwrite, Permission
from .state import parse_emoji

#: Ids may be passed as ints or as the strings Discord payloads carry.
Snowflake = int | str

AttachmentSpec = FileOption | tuple[str, bytes] | tuple[str, bytes, str]


class WorldActions:
    def __init__(self, core: StandInCore) -> None:
        self.core = core
        self.state = core.state

    # ----------------------------------------------------------------- setup (synchronous)

    def add_user(self, username: str, *, bot: bool = False, user_id: Snowflake | None = None) -> JSON:
        if user_id is not None and int(user_id) in self.state.users:
            return self.state.users[int(user_id)].payload()
        uid = int(user_id) if user_id is not None else None
        return self.state.create_user(username, bot=bot, user_id=uid).payload()

    def add_guild(
        self,
        name: str,
        owner_id: Snowflake | None = None,
        *,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
    ) -> JSON:
        guild = self.state.create_guild(
            name,
            owner_id=int(owner_id) if owner_id is not None else None,
            everyone_permissions=everyone_permissions,
        )
        self.core.dispatch_soon("GUILD_CREATE", self.state.guild_create_payload(guild.id))
        return guild.base_payload()

    def add_channel(
        self,
        guild_id: Snowflake,
        name: str,
        type: int = ChannelType.GUILD_TEXT,
        parent_id: Snowflake | None = None,
        *,
        topic: str | None = None,
    ) -> JSON:
        channel = self.state.create_channel(
            int(guild_id),
            name,
            type=type,
            parent_id=int(parent_id) if parent_id is not None else None,
            topic=topic,
        )
        payload = self.state.channel_payload(channel)
        self.core.dispatch_soon("CHANNEL_CREATE", payload)
        return payload

    def remove_bot(self, guild_id: Snowflake) -> None:
        """The server removes the bot (kicked, or it left): GUILD_DELETE without `unavailable`, as Discord sends."""
        gid = int(guild_id)
        self.state.guild(gid).members.pop(self.state.bot.id, None)
        self.core.dispatch_soon("GUILD_DELETE", {"id": str(gid)})

    def delete_channel(self, channel_id: Snowflake) -> JSON:
        payload = self.state.channel_payload(self.state.channel(int(channel_id)))
        self.state.delete_channel(int(channel_id))
        self.core.dispatch_soon("CHANNEL_DELETE", payload)
        return payload

    def delete_thread(self, thread_id: Snowflake) -> JSON:
        thread = self.state.channel(int(thread_id))
        self.state.delete_thread(int(thread_id))
        # Discord sends THREAD_DELETE with the thread's ids only, and no MESSAGE_DELETE for the messages in it.
        payload = {
            "id": str(thread.id),
            "guild_id": str(thread.guild_id),
            "parent_id": str(thread.parent_id),
            "type": int(thread.type),
        }
        self.core.dispatch_soon("THREAD_DELETE", payload)
        return payload

    def add_role(
        self,
        guild_id: Snowflake,
        name: str,
        permissions: int = 0,
        *,
        mentionable: bool = False,
        color: int = 0,
    ) -> JSON:
        role = self.state.create_role(int(guild_id), name, permissions, mentionable=mentionable, color=color)
        self.core.dispatch_soon("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role.payload()})
        return role.payload()

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
        """Add a member (creating the user unless ``user_id`` names an existing one)."""
        user = self.add_user(username, bot=bot, user_id=user_id)
        gid = int(guild_id)
        self.state.add_member(gid, int(user["id"]), roles=[int(r) for r in roles], nick=nick)
        payload = self.state.member_payload(gid, int(user["id"]))
        self.core.dispatch_soon("GUILD_MEMBER_ADD", payload | {"guild_id": str(gid)})
        return payload

    def set_member_roles(self, guild_id: Snowflake, user_id: Snowflake, roles: Sequence[Snowflake]) -> JSON:
        gid = int(guild_id)
        member = self.state.member(gid, int(user_id))
        guild = self.state.guild(gid)
        for role_id in roles:
            if int(role_id) not in guild.roles:
                raise errors.unknown("Role")
        member.roles = [int(r) for r in roles]
        payload = self.state.member_payload(gid, member.user_id)
        self.core.dispatch_soon("GUILD_MEMBER_UPDATE", payload | {"guild_id": str(gid)})
        return payload

    def delete_role(self, guild_id: Snowflake, role_id: Snowflake) -> None:
        """Delete a role as Discord does: members lose it, channel overwrites for it go, GUILD_ROLE_DELETE is sent."""
        gid, rid = int(guild_id), int(role_id)
        guild = self.state.guild(gid)
        if rid not in guild.roles or rid == gid:
            raise errors.unknown("Role")
        del guild.roles[rid]
        for member in guild.members.values():
            member.roles = [r for r in member.roles if r != rid]
        for channel in self.state.channels.values():
            if channel.guild_id == gid:
                channel.overwrites = [o for o in channel.overwrites if not (o.type == 0 and o.id == rid)]
        self.core.dispatch_soon("GUILD_ROLE_DELETE", {"guild_id": str(gid), "role_id": str(rid)})

    def set_role_permissions(self, guild_id: Snowflake, role_id: Snowflake, permissions: int) -> JSON:
        role = self.state.guild(int(guild_id)).roles[int(role_id)]
        role.permissions = permissions
        self.core.dispatch_soon("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": role.payload()})
        return role.payload()

    def set_permission_overwrite(
        self,
        channel_id: Snowflake,
        target_id: Snowflake,
        *,
        allow: int = 0,
        deny: int = 0,
        type: int = OVERWRITE_ROLE,
    ) -> JSON:
        """Set a channel overwrite for a role (type 0; the guild id is @everyone) or a member (type 1)."""
        channel = self.state.channel(int(channel_id))
        channel.overwrites = [ow for ow in channel.overwrites if ow.id != int(target_id)]
        channel.overwrites.append(Overwrite(id=int(target_id), type=type, allow=allow, deny=deny))
        payload = self.state.channel_payload(channel)
        self.core.dispatch_soon("CHANNEL_UPDATE", payload)
        return payload

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
        """A member posts a message (mentions are parsed from ``content``); returns the message payload."""
        channel = self.state.channel(int(channel_id))
        author = int(author_id)
        if check_permissions and channel.guild_id is not None:
            send = Permission.SEND_MESSAGES_IN_THREADS if channel.type.is_thread else Permission.SEND_MESSAGES
            needed = [send] + ([Permission.ATTACH_FILES] if attachments else [])
            try:
                self.state.require(channel.id, author, *needed)
            except errors.ApiError as exc:
                raise PermissionError(f"user {author} may not post in channel {channel.id}: {exc.message}") from exc
        stored = [self._attachment(channel.id, spec) for spec in attachments or []]
        reference = None
        if reply_to is not None:
            reference = {"message_id": str(reply_to), "channel_id": str(channel.id)}
        msg = await self.core.post_message(
            channel.id, author, content, attachments=stored, message_reference=reference, embeds=embeds
        )
        return self.state.message_payload(msg)

    async def send_dm(
        self, user_id: Snowflake, content: str, attachments: Sequence[AttachmentSpec] | None = None
    ) -> JSON:
        """A user writes to the bot in DMs."""
        channel = self.state.open_dm(int(user_id))
        return await self.send_message(channel.id, user_id, content, attachments=attachments)

    async def edit_message(self, channel_id: Snowflake, message_id: Snowflake, content: str) -> JSON:
        """The author edits their message."""
        msg = self.state.message(int(channel_id), int(message_id))
        await self.core.edit_message(msg, {"content": content})
        return self.state.message_payload(msg)

    async def delete_message(self, channel_id: Snowflake, message_id: Snowflake) -> None:
        msg = self.state.message(int(channel_id), int(message_id))
        await self.core.delete_message(msg)

    async def add_reaction(
        self, channel_id: Snowflake, message_id: Snowflake, user_id: Snowflake, emoji: str, *, burst: bool = False
    ) -> None:
        msg = self.state.message(int(channel_id), int(message_id))
        await self.core.add_reaction(msg, int(user_id), parse_emoji(emoji), burst=burst)

    async def remove_reaction(
        self, channel_id: Snowflake, message_id: Snowflake, user_id: Snowflake, emoji: str, *, burst: bool = False
    ) -> None:
        msg = self.state.message(int(channel_id), int(message_id))
        await self.core.remove_reaction(msg, int(user_id), parse_emoji(emoji), burst=burst)

    async def create_thread(
        self,
        channel_id: Snowflake,
        name: str,
        owner_id: Snowflake,
        message_id: Snowflake | None = None,
    ) -> JSON:
        thread = await self.core.create_thread(
            int(channel_id),
            name,
            owner_id=int(owner_id),
            message_id=int(message_id) if message_id is not None else None,
        )
        return self.state.channel_payload(thread)

    async def update_channel(self, channel_id: Snowflake, **changes: Any) -> JSON:
        """Change a channel or thread as a moderator or Discord itself would (`archived=True`: auto-archive)."""
        channel = await self.core.update_channel(self.state.channel(int(channel_id)), changes)
        return self.state.channel_payload(channel)

    def _attachment(self, channel_id: int, spec: AttachmentSpec | Any) -> Attachment:
        if isinstance(spec, tuple):
            spec = FileOption(*spec)
        if not isinstance(spec, FileOption):
            raise TypeError("attachments are FileOption or (filename, bytes[, content_type]) tuples")
        return self.state.store_attachment(channel_id, spec.filename, spec.data, content_type=spec.content_type)
