"""Turning errors in commands, buttons and forms into short messages, with the detail kept for the log.

`describe_error` is pure (tests call it directly); `report_error` is the one place that tells the
member and logs; the error-handling cog and every modal or view route their failures through it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import discord
from discord import app_commands

log = logging.getLogger(__name__)

# Discord's UI names for permissions whose API names differ.
PERMISSION_LABELS = {"manage_guild": "Manage Server", "view_channel": "View Channels"}
MAX_LISTED_PROBLEMS = 12


def permission_label(name: str) -> str:
    return PERMISSION_LABELS.get(name, name.replace("_", " ").title())


class UserFacingError(Exception):
    """An error whose message is written for the member who ran the command, and shown as is."""


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """What to tell the member; `reference` is set for unexpected errors, which are logged under it."""

    message: str
    reference: str | None = None


def describe_error(error: BaseException) -> ErrorReply:
    """The member-facing reply for a failed command, button or form."""
    from bot.scopes.parser import ScopeValidationError  # scopes import errors; import here to avoid a cycle

    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, UserFacingError):
        return ErrorReply(str(original))
    if isinstance(original, ScopeValidationError):
        problems = [f"• {problem}" for problem in original.problems]
        shown = problems[:MAX_LISTED_PROBLEMS]
        if len(problems) > len(shown):
            shown.append(f"…and {len(problems) - len(shown)} more.")
        text = f"Nothing was changed: the scope has {len(problems)} problem(s) to fix.\n" + "\n".join(shown)
        return ErrorReply(text[:1990])
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


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Log the error and tell the member, whether or not the interaction was answered already."""
    reply = describe_error(error)
    command = interaction.command.qualified_name if interaction.command else "a button or form"
    if reply.reference is not None:
        original = getattr(error, "original", error)
        log.error("/%s failed (reference %s)", command, reply.reference, exc_info=original)
    else:
        log.info("/%s refused: %s", command, reply.message.splitlines()[0])
    try:
        if interaction.response.is_done():
            await interaction.followup.send(reply.message, ephemeral=True)
        else:
            await interaction.response.send_message(reply.message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about the error in /%s", command)
