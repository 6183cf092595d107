"""The world the stand-in simulates: users, guilds, roles, members, channels, threads and messages.

Pure bookkeeping: nothing here touches the network. ``core.StandInCore`` pairs each change with the
gateway event Discord would send.
"""

from __future__ import annotations

import mimetypes
import time

from . import errors
from .mentions import apply_allowed_mentions, parse_mentions
from .models import (
    JSON,
    Attachment,
    Channel,
    ChannelType,
    Guild,
    Member,
    Message,
    MessageEdit,
    Reaction,
    Role,
    User,
)
from .permissions import (
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    Overwrite,
    Permission,
    apply_overwrites,
    base_permissions,
)
from .snowflake import SnowflakeFactory, iso_timestamp


class StandInState:
    """Every object the stand-in knows, with Discord's rules for permissions and mentions."""

    def __init__(self, *, bot_username: str, bot_permissions: int = DEFAULT_BOT_PERMISSIONS) -> None:
        self.ids = SnowflakeFactory()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.channel_message_ids: dict[int, list[int]] = {}
        self.attachments: dict[int, Attachment] = {}
        self.dm_channels: dict[int, int] = {}
        self.bot_permissions = bot_permissions
        #: Root URL of the running server, used to build attachment URLs; set by the server on start.
        self.base_url = "http://127.0.0.1"
        self.bot = self.create_user(bot_username, bot=True)
        self.application_id = self.bot.id
        self.app_owner = self.create_user(f"{bot_username}-owner")

    # ----------------------------------------------------------------- creation

    def create_user(self, username: str, *, bot: bool = False, user_id: int | None = None) -> User:
        user = User(id=user_id or self.ids.next(), username=username, bot=bot)
        self.users[user.id] = user
        return user

    def create_guild(
        self,
        name: str,
        *,
        owner_id: int | None = None,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
    ) -> Guild:
        """A guild with its @everyone role, its owner as a member and the bot with its managed role."""
        guild_id = self.ids.next()
        if owner_id is None:
            owner_id = self.create_user(f"{name}-owner").id
        elif owner_id not in self.users:
            raise errors.unknown("User")
        guild = Guild(id=guild_id, name=name, owner_id=owner_id)
        guild.roles[guild_id] = Role(id=guild_id, guild_id=guild_id, name="@everyone", permissions=everyone_permissions)
        self.guilds[guild_id] = guild
        self.add_member(guild_id, owner_id)
        bot_role = self.create_role(guild_id, self.bot.username, self.bot_permissions, bot_id=self.bot.id)
        self.add_member(guild_id, self.bot.id, roles=[bot_role.id])
        return guild

    def create_role(
        self,
        guild_id: int,
        name: str,
        permissions: int = 0,
        *,
        color: int = 0,
        mentionable: bool = False,
        hoist: bool = False,
        bot_id: int | None = None,
    ) -> Role:
        guild = self.guild(guild_id)
        role = Role(
            id=self.ids.next(),
            guild_id=guild_id,
            name=name,
            permissions=permissions,
            position=len(guild.roles),
            color=color,
            mentionable=mentionable,
            hoist=hoist,
            bot_id=bot_id,
        )
        guild.roles[role.id] = role
        return role

    def add_member(
        self, guild_id: int, user_id: int, *, roles: list[int] | None = None, nick: str | None = None
    ) -> Member:
        guild = self.guild(guild_id)
        if user_id not in self.users:
            raise errors.unknown("User")
        for role_id in roles or []:
            if role_id not in guild.roles:
                raise errors.unknown("Role")
        member = Member(user_id=user_id, guild_id=guild_id, roles=list(roles or []), nick=nick)
        guild.members[user_id] = member
        return member

    def create_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: int = ChannelType.GUILD_TEXT,
        parent_id: int | None = None,
        topic: str | None = None,
        overwrites: list[Overwrite] | None = None,
    ) -> Channel:
        guild = self.guild(guild_id)
        channel_type = ChannelType(type)
        if channel_type.is_thread:
            raise errors.invalid_form("use create_thread for threads")
        channel = Channel(
            id=self.ids.next(),
            type=channel_type,
            name=name,
            guild_id=guild_id,
            parent_id=parent_id,
            position=len(guild.channel_ids),
            topic=topic,
            overwrites=list(overwrites or []),
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def delete_thread(self, thread_id: int) -> Channel:
        """Remove a thread and its messages (as a moderator deleting it); later calls naming it get Unknown Channel."""
        thread = self.channel(thread_id)
        if not thread.type.is_thread:
            raise errors.invalid_form("only threads are deleted this way")
        del self.channels[thread_id]
        for message_id in self.channel_message_ids.pop(thread_id, []):
            self.messages.pop(message_id, None)
        return thread

    def delete_channel(self, channel_id: int) -> Channel:
        """Remove a guild channel (as a moderator deleting it); later calls naming it get Unknown Channel."""
        channel = self.channel(channel_id)
        if channel.guild_id is None or channel.type.is_thread:
            raise errors.invalid_form("only guild channels are deleted this way")
        del self.channels[channel_id]
        self.guild(channel.guild_id).channel_ids.remove(channel_id)
        return channel

    def create_thread(
        self,
        parent_id: int,
        name: str,
        *,
        owner_id: int,
        type: int = ChannelType.PUBLIC_THREAD,
        message_id: int | None = None,
        auto_archive_duration: int = 1440,
    ) -> Channel:
        """A thread in a text or forum channel; with ``message_id`` it starts from that message and shares its id."""
        parent = self.channel(parent_id)
        if parent.guild_id is None or parent.type.is_thread:
            raise errors.invalid_form("threads need a guild text or forum channel as parent")
        if message_id is not None:
            starter = self.message(parent_id, message_id)
            if starter.thread_id is not None:
                raise errors.ApiError(400, 160004, "A thread has already been created for this message")
            thread_id = message_id
        else:
            thread_id = self.ids.next()
        thread = Channel(
            id=thread_id,
            type=ChannelType(type),
            name=name,
            guild_id=parent.guild_id,
            parent_id=parent_id,
            owner_id=owner_id,
            auto_archive_duration=auto_archive_duration,
            member_ids=[owner_id],
        )
        self.channels[thread.id] = thread
        if message_id is not None:
            self.messages[message_id].thread_id = thread.id
        return thread

    def open_dm(self, user_id: int) -> Channel:
        """The DM channel between the bot and ``user_id``, made on first use."""
        if user_id not in self.users:
            raise errors.unknown("User")
        existing = self.dm_channels.get(user_id)
        if existing is not None:
            return self.channels[existing]
        channel = Channel(id=self.ids.next(), type=ChannelType.DM, name="", guild_id=None, recipient_ids=[user_id])
        self.channels[channel.id] = channel
        self.dm_channels[user_id] = channel.id
        return channel

    def store_attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> Attachment:
        att_id = self.ids.next()
        url = f"{self.base_url}/attachments/{channel_id}/{att_id}/{filename}"
        att = Attachment(
            id=att_id,
            filename=filename,
            data=data,
            url=url,
            content_type=content_type or _guess_content_type(filename),
            description=description,
            ephemeral=ephemeral,
        )
        self.attachments[att_id] = att
        return att

    def create_message(
        self,
        channel_id: int,
        author_id: int,
        content: str = "",
        *,
        embeds: list[JSON] | None = None,
        components: list[JSON] | None = None,
        attachments: list[Attachment] | None = None,
        message_reference: JSON | None = None,
        allowed_mentions: JSON | None = None,
        flags: int = 0,
        tts: bool = False,
        nonce: str | int | None = None,
        webhook_id: int | None = None,
        application_id: int | None = None,
        interaction_metadata: JSON | None = None,
        interaction_id: int | None = None,
        type: int = 0,
        poll: JSON | None = None,
        sticker_ids: list[int] | None = None,
        visible: bool = True,
    ) -> Message:
        """Store a message; ``visible=False`` (ephemeral) keeps it out of the channel history."""
        channel = self.channel(channel_id)
        if author_id not in self.users:
            raise errors.unknown("User")
        if message_reference is not None:
            ref_id = int(message_reference["message_id"])
            ref_channel = int(message_reference.get("channel_id") or channel_id)
            ref = self.messages.get(ref_id)
            if ref is None or ref.deleted or ref.channel_id != ref_channel:
                if message_reference.get("fail_if_not_exists", True):
                    raise errors.invalid_form("Unknown message in message_reference")
                message_reference = None
            else:
                message_reference = {
                    "type": message_reference.get("type", 0),
                    "message_id": str(ref_id),
                    "channel_id": str(ref_channel),
                    "guild_id": _opt_str(ref.guild_id),
                    "fail_if_not_exists": message_reference.get("fail_if_not_exists", True),
                }
                if type == 0:
                    type = 19
        msg = Message(
            id=self.ids.next(),
            channel_id=channel_id,
            guild_id=channel.guild_id,
            author_id=author_id,
            content=content,
            type=type,
            embeds=list(embeds or []),
            components=list(components or []),
            attachments=list(attachments or []),
            message_reference=message_reference,
            allowed_mentions=allowed_mentions,
            flags=flags,
            tts=tts,
            nonce=nonce,
            webhook_id=webhook_id,
            application_id=application_id,
            interaction_metadata=interaction_metadata,
            interaction_id=interaction_id,
            poll=poll,
            sticker_ids=list(sticker_ids or []),
        )
        self._resolve_mentions(msg)
        msg.pinged_when_sent = bool(msg.mentions or msg.mention_roles or msg.mention_everyone)
        self.messages[msg.id] = msg
        if visible:
            self.channel_message_ids.setdefault(channel_id, []).append(msg.id)
            channel.last_message_id = msg.id
            if channel.type.is_thread:
                channel.message_count += 1
        return msg

    def message_with_nonce(self, channel_id: int, author_id: int, nonce: str | int) -> Message | None:
        """A recent message of `author_id` in the channel sent with `nonce` (Discord checks the last few minutes; the
        stand-in, the channel's last 50 messages)."""
        for message_id in reversed(self.channel_message_ids.get(channel_id, [])[-50:]):
            msg = self.messages.get(message_id)
            if (
                msg is not None
                and msg.author_id == author_id
                and msg.nonce is not None
                and str(msg.nonce) == str(nonce)
            ):
                return msg
        return None

    def edit_message(self, msg: Message, changes: JSON, *, new_attachments: list[Attachment] | None = None) -> Message:
        """Apply a PATCH body; ``changes['attachments']`` keeps listed existing ids and adds uploads."""
        msg.edits.append(
            MessageEdit(
                at=time.time(),
                content=msg.content,
                embeds=list(msg.embeds),
                components=list(msg.components),
                attachment_names=[a.filename for a in msg.attachments],
                allowed_mentions=msg.allowed_mentions,
            )
        )
        if "content" in changes:
            msg.content = changes["content"] or ""
        if "embeds" in changes:
            msg.embeds = list(changes["embeds"] or [])
        if "embed" in changes:
            msg.embeds = [changes["embed"]] if changes["embed"] else []
        if "components" in changes:
            msg.components = list(changes["components"] or [])
        if "flags" in changes and changes["flags"] is not None:
            keep = msg.flags & ~0b100  # only SUPPRESS_EMBEDS is editable
            msg.flags = keep | (int(changes["flags"]) & 0b100)
        if "allowed_mentions" in changes:
            msg.allowed_mentions = changes["allowed_mentions"]
        if "attachments" in changes:
            uploads = {i: a for i, a in enumerate(new_attachments or [])}
            kept: list[Attachment] = []
            existing = {a.id: a for a in msg.attachments}
            for entry in changes["attachments"] or []:
                entry_id = int(entry["id"])
                if entry_id in existing:
                    kept.append(existing[entry_id])
                elif entry_id in uploads:
                    kept.append(uploads.pop(entry_id))
            kept.extend(uploads.values())
            msg.attachments = kept
        elif new_attachments:
            msg.attachments = msg.attachments + list(new_attachments)
        msg.flags &= ~0b1000_0000  # an edit finishes a "thinking…" message
        msg.edited_timestamp = iso_timestamp()
        self._resolve_mentions(msg)
        return msg

    def delete_message(self, msg: Message) -> None:
        msg.deleted = True
        ids = self.channel_message_ids.get(msg.channel_id, [])
        if msg.id in ids:
            ids.remove(msg.id)

    def add_reaction(self, msg: Message, user_id: int, emoji: JSON, *, burst: bool = False) -> bool:
        """Record a reaction (a super reaction with `burst`); False if that user had already reacted so."""
        key = emoji_key(emoji)
        reaction = msg.reactions.setdefault(key, Reaction(emoji=emoji))
        users = reaction.burst_user_ids if burst else reaction.user_ids
        if user_id in users:
            return False
        users.append(user_id)
        return True

    def remove_reaction(self, msg: Message, user_id: int, emoji: JSON, *, burst: bool = False) -> bool:
        key = emoji_key(emoji)
        reaction = msg.reactions.get(key)
        users = None if reaction is None else reaction.burst_user_ids if burst else reaction.user_ids
        if reaction is None or users is None or user_id not in users:
            return False
        users.remove(user_id)
        if not reaction.user_ids and not reaction.burst_user_ids:
            del msg.reactions[key]
        return True

    # ----------------------------------------------------------------- lookup

    def user(self, user_id: int) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise errors.unknown("User") from None

    def guild(self, guild_id: int) -> Guild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise errors.unknown("Guild") from None

    def channel(self, channel_id: int) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise errors.unknown("Channel") from None

    def member(self, guild_id: int, user_id: int) -> Member:
        try:
            return self.guild(guild_id).members[user_id]
        except KeyError:
            raise errors.unknown("Member") from None

    def message(self, channel_id: int, message_id: int) -> Message:
        msg = self.messages.get(message_id)
        if msg is None or msg.deleted or msg.channel_id != channel_id:
            raise errors.unknown("Message")
        return msg

    def visible_messages(self, channel_id: int) -> list[Message]:
        """Non-deleted, non-ephemeral messages of a channel, oldest first."""
        return [self.messages[i] for i in self.channel_message_ids.get(channel_id, [])]

    def threads_of(self, guild_id: int) -> list[Channel]:
        return [c for c in self.channels.values() if c.guild_id == guild_id and c.type.is_thread]

    def permission_channel(self, channel: Channel) -> Channel:
        """The channel whose overwrites apply: a thread's parent, otherwise the channel itself."""
        if channel.type.is_thread and channel.parent_id is not None:
            return self.channel(channel.parent_id)
        return channel

    # ----------------------------------------------------------------- permissions

    def guild_permissions(self, guild_id: int, user_id: int) -> int:
        guild = self.guild(guild_id)
        member = self.member(guild_id, user_id)
        return base_permissions(
            user_id=user_id,
            owner_id=guild.owner_id,
            everyone_permissions=guild.everyone.permissions,
            role_permissions=[guild.roles[r].permissions for r in member.roles if r in guild.roles],
        )

    def channel_permissions(self, channel_id: int, user_id: int) -> int:
        """Permissions of ``user_id`` in a channel (threads use their parent's overwrites); DMs allow the basics."""
        channel = self.channel(channel_id)
        if channel.guild_id is None:
            return int(
                Permission.VIEW_CHANNEL
                | Permission.SEND_MESSAGES
                | Permission.READ_MESSAGE_HISTORY
                | Permission.ADD_REACTIONS
                | Permission.EMBED_LINKS
                | Permission.ATTACH_FILES
                | Permission.USE_EXTERNAL_EMOJIS
                | Permission.USE_APPLICATION_COMMANDS
            )
        guild = self.guild(channel.guild_id)
        if user_id not in guild.members:
            return 0
        base = self.guild_permissions(guild.id, user_id)
        if base == ALL_PERMISSIONS:
            return ALL_PERMISSIONS
        member = guild.members[user_id]
        return apply_overwrites(
            base,
            guild_id=guild.id,
            user_id=user_id,
            role_ids=member.roles,
            overwrites=self.permission_channel(channel).overwrites,
        )

    def require(self, channel_id: int, user_id: int, *needed: Permission) -> None:
        """Raise Discord's 403 unless ``user_id`` has every permission in ``needed`` in the channel."""
        perms = self.channel_permissions(channel_id, user_id)
        if not perms & Permission.VIEW_CHANNEL:
            raise errors.missing_access()
        for perm in needed:
            if not perms & perm:
                raise errors.missing_permissions()

    # ----------------------------------------------------------------- payloads

    def member_payload(self, guild_id: int, user_id: int, *, with_user: bool = True) -> JSON:
        member = self.member(guild_id, user_id)
        return member.payload(self.users[user_id] if with_user else None)

    def channel_payload(self, channel: Channel) -> JSON:
        return channel.payload(self.users)

    def role_payload(self, role: Role) -> JSON:
        return role.payload()

    def guild_create_payload(self, guild_id: int) -> JSON:
        """The full GUILD_CREATE payload: guild, channels, threads and members."""
        guild = self.guild(guild_id)
        data = guild.base_payload()
        members = [self.member_payload(guild_id, uid) for uid in guild.members]
        data.update(
            unavailable=False,
            joined_at=guild.joined_at,
            large=False,
            member_count=len(members),
            members=members,
            channels=[self.channel_payload(self.channels[c]) for c in guild.channel_ids],
            threads=[self.channel_payload(t) for t in self.threads_of(guild_id) if not t.archived],
            voice_states=[],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
        return data

    def message_payload(self, msg: Message, *, with_reference: bool = True) -> JSON:
        author = self.users[msg.author_id]
        data: JSON = {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "author": author.payload(),
            "content": msg.content,
            "timestamp": msg.timestamp,
            "edited_timestamp": msg.edited_timestamp,
            "tts": msg.tts,
            "mention_everyone": msg.mention_everyone,
            "mentions": [self._mention_payload(msg, uid) for uid in msg.mentions if uid in self.users],
            "mention_roles": [str(r) for r in msg.mention_roles],
            "attachments": [a.payload() for a in msg.attachments],
            "embeds": msg.embeds,
            "components": msg.components,
            "reactions": [self._reaction_payload(r) for r in msg.reactions.values()],
            "pinned": msg.pinned,
            "type": msg.type,
            "flags": msg.flags,
        }
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
            guild = self.guilds.get(msg.guild_id)
            if msg.webhook_id is None and guild is not None and msg.author_id in guild.members:
                data["member"] = self.member_payload(msg.guild_id, msg.author_id, with_user=False)
        if msg.nonce is not None:
            data["nonce"] = msg.nonce
        if msg.webhook_id is not None:
            data["webhook_id"] = str(msg.webhook_id)
        if msg.application_id is not None:
            data["application_id"] = str(msg.application_id)
        if msg.interaction_metadata is not None:
            data["interaction_metadata"] = msg.interaction_metadata
        if msg.poll is not None:
            data["poll"] = msg.poll
        if msg.message_reference is not None:
            data["message_reference"] = msg.message_reference
            if with_reference:
                ref = self.messages.get(int(msg.message_reference["message_id"]))
                data["referenced_message"] = (
                    None if ref is None or ref.deleted else self.message_payload(ref, with_reference=False)
                )
        if msg.thread_id is not None and msg.thread_id in self.channels:
            data["thread"] = self.channel_payload(self.channels[msg.thread_id])
        channel = self.channels.get(msg.channel_id)
        if channel is not None and channel.type.is_thread:
            data["position"] = max(channel.message_count - 1, 0)
        return data

    # ----------------------------------------------------------------- internals

    def _mention_payload(self, msg: Message, user_id: int) -> JSON:
        data = self.users[user_id].payload()
        if msg.guild_id is not None and user_id in self.guilds[msg.guild_id].members:
            data["member"] = self.member_payload(msg.guild_id, user_id, with_user=False)
        return data

    def _reaction_payload(self, reaction: Reaction) -> JSON:
        normal, burst = len(reaction.user_ids), len(reaction.burst_user_ids)
        return {
            "count": normal + burst,
            "count_details": {"burst": burst, "normal": normal},
            "me": self.bot.id in reaction.user_ids,
            "me_burst": self.bot.id in reaction.burst_user_ids,
            "burst_colors": [],
            "emoji": reaction.emoji,
        }

    def _resolve_mentions(self, msg: Message) -> None:
        parsed = parse_mentions(msg.content)
        msg.content_user_mentions = parsed.users
        msg.content_role_mentions = parsed.roles
        msg.content_mentions_everyone = parsed.everyone
        replied: int | None = None
        if msg.message_reference is not None and msg.type == 19:
            ref = self.messages.get(int(msg.message_reference["message_id"]))
            replied = ref.author_id if ref is not None else None
        may_everyone = True
        if msg.guild_id is not None and msg.author_id in self.guilds[msg.guild_id].members:
            may_everyone = bool(self.channel_permissions(msg.channel_id, msg.author_id) & Permission.MENTION_EVERYONE)
        pinged = apply_allowed_mentions(
            parsed, msg.allowed_mentions, replied_user_id=replied, may_mention_everyone=may_everyone
        )
        msg.mentions = pinged.users
        msg.mention_roles = pinged.roles
        msg.mention_everyone = pinged.everyone


def emoji_key(emoji: JSON) -> str:
    """How reactions are keyed: custom emojis by id, unicode emojis by the character."""
    return str(emoji["id"]) if emoji.get("id") else str(emoji["name"])


def parse_emoji(text: str) -> JSON:
    """An emoji from a reaction URL segment: ``👍``, ``name:id`` or ``a:name:id``."""
    parts = text.split(":")
    if len(parts) == 3 and parts[2].isdigit():
        return {"id": parts[2], "name": parts[1], "animated": True}
    if len(parts) == 2 and parts[1].isdigit():
        return {"id": parts[1], "name": parts[0]}
    return {"id": None, "name": text}


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _guess_content_type(filename: str) -> str | None:
    guessed, _ = mimetypes.guess_type(filename)
    return guessed
