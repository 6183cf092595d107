"""A wire-level Discord stand-in for the real discord.py: REST API, gateway and interactions over real sockets.

Point discord.py at it with :meth:`DiscordStandIn.configure_discord_py` and log in with
:attr:`DiscordStandIn.token`.
"""

from .faults import Fault
from .gateway import DispatchedEvent
from .interaction_payloads import FileOption
from .interactions import InteractionRecord
from .models import Attachment, ChannelType, Message, MessageEdit, MessageFlag
from .observe import RecordedRequest, UploadedFile
from .permissions import (
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    OVERWRITE_MEMBER,
    OVERWRITE_ROLE,
    Permission,
)
from .server import DiscordStandIn

__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "OVERWRITE_MEMBER",
    "OVERWRITE_ROLE",
    "Attachment",
    "ChannelType",
    "DiscordStandIn",
    "DispatchedEvent",
    "Fault",
    "FileOption",
    "InteractionRecord",
    "Message",
    "MessageEdit",
    "MessageFlag",
    "Permission",
    "RecordedRequest",
    "UploadedFile",
]
