"""Turning command errors into short messages for the member, with the detail kept for the log."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from discord import app_commands

# Discord's UI names for permissions whose API names differ.
PERMISSION_LABELS = {"manage_guild": "Manage Server", "view_channel": "View Channels"}


def permission_label(name: str) -> str:
    return PERMISSION_LABELS.get(name, name.replace("_", " ").title())


class UserFacingError(Exception):
    """An error whose message is written for the member who ran the command, and shown as is."""


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """What to tell the member; `reference` is set for unexpected errors, which are logged under it."""

    message: str
    reference: str | None = None


def describe_command_error(error: app_commands.AppCommandError) -> ErrorReply:
    """The member-facing reply for a failed command."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, UserFacingError):
        return ErrorReply(str(original))
    if isinstance(original, app_commands.MissingPermissions):
        needed = ", ".join(map(permission_label, original.missing_permissions))
        return ErrorReply(f"You need the {needed} permission to use this command.")
    if isinstance(original, app_commands.BotMissingPermissions):
        needed = ", ".join(map(permission_label, original.missing_permissions))
        return ErrorReply(f"I am missing the {needed} permission here; ask a moderator to grant it.")
    if isinstance(original, app_commands.CommandOnCooldown):
        return ErrorReply(f"Slow down a little: try again in {original.retry_after:.0f} seconds.")
    if isinstance(original, app_commands.NoPrivateMessage):
        return ErrorReply("This command works in a server, not in direct messages.")
    if isinstance(original, app_commands.CheckFailure):
        return ErrorReply("You can't use this command here.")
    reference = secrets.token_hex(4)
    return ErrorReply(
        f"Something went wrong on our side. The moderators can find the details in the bot's log "
        f"under reference {reference}.",
        reference,
    )
