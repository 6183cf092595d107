"""The stand-in's records of Discord objects, each able to render its API payload.

Records hold ids as ints; payloads carry them as strings, as Discord does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .permissions import Overwrite
from .snowflake import iso_timestamp, snowflake_time

JSON = dict[str, Any]


class ChannelType(IntEnum):
    """Discord channel types the stand-in models."""

    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_FORUM = 15

    @property
    def is_thread(self) -> bool:
        return self in (ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD)


class MessageFlag(IntEnum):
    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def payload(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "managed": self.bot_id is not None,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class Member:
    user_id: int
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_timestamp)

    def payload(self, user: User | None = None) -> JSON:
        """The member payload; with ``user`` it embeds the user, as GUILD_CREATE and interactions do."""
        data: JSON = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if user is not None:
            data["user"] = user.payload()
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=iso_timestamp)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    def base_payload(self) -> JSON:
        """The guild fields without channels, members and threads."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
        }


@dataclass
class Channel:
    id: int
    type: ChannelType
    name: str
    guild_id: int | None
    parent_id: int | None = None
    position: int = 0
    topic: str | None = None
    nsfw: bool = False
    overwrites: list[Overwrite] = field(default_factory=list)
    owner_id: int | None = None
    recipient_ids: list[int] = field(default_factory=list)
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    last_message_id: int | None = None
    message_count: int = 0
    member_ids: list[int] = field(default_factory=list)
    created_at: str = field(default_factory=iso_timestamp)

    def payload(self, users: dict[int, User] | None = None) -> JSON:
        if self.type == ChannelType.DM:
            recipients = [users[u].payload() for u in self.recipient_ids] if users else []
            return {
                "id": str(self.id),
                "type": int(self.type),
                "recipients": recipients,
                "last_message_id": _opt_str(self.last_message_id),
                "flags": 0,
            }
        data: JSON = {
            "id": str(self.id),
            "type": int(self.type),
            "guild_id": _opt_str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [ow.payload() for ow in self.overwrites],
            "parent_id": _opt_str(self.parent_id),
            "nsfw": self.nsfw,
            "flags": 0,
            "rate_limit_per_user": 0,
        }
        if self.type in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT, ChannelType.GUILD_FORUM):
            data["topic"] = self.topic
            data["last_message_id"] = _opt_str(self.last_message_id)
            data["default_auto_archive_duration"] = 1440
            data["default_thread_rate_limit_per_user"] = 0
        if self.type == ChannelType.GUILD_FORUM:
            data.update(
                available_tags=[],
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
            )
        if self.type == ChannelType.GUILD_VOICE:
            data.update(bitrate=64000, user_limit=0, rtc_region=None, video_quality_mode=1)
        if self.type.is_thread:
            data.pop("permission_overwrites")
            data.update(
                owner_id=_opt_str(self.owner_id),
                last_message_id=_opt_str(self.last_message_id),
                message_count=self.message_count,
                total_message_sent=self.message_count,
                member_count=min(len(self.member_ids), 50),
                applied_tags=[],
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": self.created_at,
                    "locked": self.locked,
                    "create_timestamp": self.created_at,
                    "invitable": self.type == ChannelType.PUBLIC_THREAD,
                },
            )
        return data


@dataclass
class Attachment:
    """A stored upload; its bytes are served back at ``url``."""

    id: int
    filename: str
    data: bytes
    url: str
    content_type: str | None = None
    description: str | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def text(self, encoding: str = "utf-8") -> str:
        return self.data.decode(encoding)

    def payload(self) -> JSON:
        data: JSON = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
            "description": self.description,
        }
        if self.ephemeral:
            data["ephemeral"] = True
        return data


@dataclass
class Reaction:
    emoji: JSON
    user_ids: list[int] = field(default_factory=list)  # normal reactions
    burst_user_ids: list[int] = field(default_factory=list)  # super reactions (Discord's "burst" type)


@dataclass
class MessageEdit:
    """A message's state before one edit."""

    at: float
    content: str
    embeds: list[JSON]
    components: list[JSON]
    attachment_names: list[str]
    allowed_mentions: JSON | None = None


@dataclass
class Message:
    """A message as the stand-in stores it.

    ``allowed_mentions`` is exactly what the sender asked for (``None`` if it sent none);
    ``mentions``/``mention_roles``/``mention_everyone`` are who actually got pinged after applying it,
    while ``content_user_mentions``/``content_role_mentions`` are every mention written in the content.
    An edit recomputes them, as Discord does for the message's highlights; ``pinged_when_sent`` keeps whether anyone
    was notified when the message was sent, which is when Discord notifies (an edit does not take it back).
    """

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    type: int = 0
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    message_reference: JSON | None = None
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    content_user_mentions: list[int] = field(default_factory=list)
    content_role_mentions: list[int] = field(default_factory=list)
    content_mentions_everyone: bool = False
    allowed_mentions: JSON | None = None
    pinged_when_sent: bool = False
    flags: int = 0
    tts: bool = False
    nonce: str | int | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: JSON | None = None
    interaction_id: int | None = None
    poll: JSON | None = None
    sticker_ids: list[int] = field(default_factory=list)
    timestamp: str = ""
    edited_timestamp: str | None = None
    deleted: bool = False
    pinned: bool = False
    edits: list[MessageEdit] = field(default_factory=list)
    reactions: dict[str, Reaction] = field(default_factory=dict)
    thread_id: int | None = None
    created: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not self.timestamp:
            self.timestamp = iso_timestamp(snowflake_time(self.id))

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def pings_anyone(self) -> bool:
        """Whether anyone was notified (users, roles or @everyone/@here), when the message was sent or as its
        content now reads."""
        return self.pinged_when_sent or bool(self.mentions or self.mention_roles or self.mention_everyone)

    def attachment(self, filename: str) -> Attachment:
        for att in self.attachments:
            if att.filename == filename:
                return att
        raise KeyError(filename)


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)
